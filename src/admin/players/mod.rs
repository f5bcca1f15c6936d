//! Player data, one file per entity: users (group, enabled, login properties; game status
//! and score), profiles (every row, and a new one), submissions (overrides only), feedback
//! (checked) and logs. This file holds the routes and what the lists share.

mod feedback;
mod logs;
mod profiles;
mod submissions;
mod users;

use super::Admin;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// A 500 page naming the database error.
fn db_error(e: impl std::fmt::Display) -> Response {
    use axum::response::IntoResponse as _;
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("database error: {e}"),
    )
        .into_response()
}

/// The routes of player data.
pub fn routes() -> Router<Arc<Admin>> {
    Router::new()
        .route("/users", get(users::list))
        .route("/users/move-group", post(users::move_group))
        .route("/users/{id}", get(users::edit).post(users::save))
        .route(
            "/users/{id}/profile",
            get(profiles::new_form).post(profiles::create),
        )
        .route("/profiles", get(profiles::list))
        .route("/submissions", get(submissions::list))
        .route(
            "/submissions/{id}",
            get(submissions::edit).post(submissions::save),
        )
        .route("/feedback", get(feedback::list))
        .route("/feedback/check", post(feedback::check))
        .route("/logs", get(logs::list))
}
