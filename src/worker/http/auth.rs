//! Login endpoints: manual login, logout and admin `su`; the one register-or-login step
//! every login method (OAuth providers included) ends with; the cookies they set;
//! failures as HTML info pages.

use super::reply::{cookie_safe, info_page, redirect, Answer, SetCookie};
use super::request::{viewer, Session};
use super::HttpState;
use crate::crypto::{admin_2fa_value, ADMIN_2FA_COOKIE};
use crate::glitter::Action;
use crate::rules;
use crate::state::Game;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// How long the login cookie lives: 30 days.
pub const LOGIN_MAX_AGE_S: u64 = 30 * 86400;

/// Where players land after registering (they must agree to the terms first).
pub const AFTER_REGISTRATION: &str = "/#/user/terms";

/// Where players land after logging in or out.
pub const PORTAL: &str = "/";

/// Longest identity accepted by the manual login (the login key column holds 192).
const MAX_IDENTITY_CHARS: usize = 128;

/// The failure page of every login endpoint.
pub(super) fn fail(status: StatusCode, message: &str) -> Answer {
    info_page(status, "登录失败", message)
}

/// What a login needs from the user, read under the game lock.
struct Login {
    auth_token: String,
    admin: bool,
}

/// The user with `login_key`: `None` if unknown, else whether they may log in.
fn find_login(game: &Game, login_key: &str) -> Option<Result<Login, &'static str>> {
    let user = game.users.iter().find(|u| u.row.login_key == login_key)?;
    Some(login_of(game, user))
}

fn login_of(game: &Game, user: &crate::state::user::User) -> Result<Login, &'static str> {
    user.check_login().map_err(|(_, msg)| msg)?;
    let auth_token = user
        .row
        .auth_token
        .clone()
        .filter(|t| cookie_safe(t))
        .ok_or("账户登录凭证无效，请联系工作人员")?;
    Ok(Login {
        auth_token,
        admin: game.is_admin(user.id()),
    })
}

/// Whether cookies get `Secure` (the backend is served over https).
pub(super) fn secure(st: &HttpState) -> bool {
    st.shared.config.auth.backend_scheme == "https"
}

fn admin_path(st: &HttpState) -> &str {
    let prefix = st.shared.config.admin.url_prefix.as_str();
    if prefix.is_empty() {
        "/"
    } else {
        prefix
    }
}

/// Redirects to `location` with the login cookies set.
fn logged_in(st: &HttpState, login: &Login, location: &'static str) -> Answer {
    let mut res = redirect(location);
    SetCookie {
        name: "auth_token",
        value: &login.auth_token,
        path: "/",
        max_age_s: LOGIN_MAX_AGE_S,
        secure: secure(st),
    }
    .add_to(&mut res);
    if login.admin {
        let value = admin_2fa_value(st.shared.config.glitter.token.expose(), &login.auth_token);
        SetCookie {
            name: ADMIN_2FA_COOKIE,
            value: &value,
            path: admin_path(st),
            max_age_s: LOGIN_MAX_AGE_S,
            secure: secure(st),
        }
        .add_to(&mut res);
    }
    res
}

/// Query of `/service/auth/manual`.
#[derive(Deserialize)]
pub(super) struct ManualQuery {
    identity: String,
}

/// `GET /service/auth/manual?identity=NAME`: logs in `manual:NAME`, registering it first.
pub(super) async fn manual(
    State(st): State<Arc<HttpState>>,
    Query(q): Query<ManualQuery>,
) -> Answer {
    let config = &st.shared.config;
    if !config.auth.manual_enabled {
        return fail(StatusCode::FORBIDDEN, "手动登录已禁用");
    }
    let identity = q.identity;
    if identity.is_empty()
        || identity.chars().count() > MAX_IDENTITY_CHARS
        || identity.chars().any(char::is_control)
    {
        return fail(StatusCode::BAD_REQUEST, "用户名无效");
    }
    let login_key = format!("manual:{identity}");
    register_or_login(
        &st,
        &login_key,
        json!({"type": "manual"}),
        rules::MANUAL_LOGIN_GROUP,
    )
    .await
}

/// Logs in the user with `login_key`, registering it first (with `properties` and
/// `group`) if it is new and registration is open. Every login method ends here.
pub(super) async fn register_or_login(
    st: &HttpState,
    login_key: &str,
    properties: Value,
    group: &str,
) -> Answer {
    match st.shared.read(|g| find_login(g, login_key)) {
        None => return fail(StatusCode::SERVICE_UNAVAILABLE, "服务暂时不可用"),
        Some(Some(Ok(login))) => return logged_in(st, &login, PORTAL),
        Some(Some(Err(msg))) => return fail(StatusCode::FORBIDDEN, msg),
        Some(None) => {}
    }
    if !st.shared.config.auth.registration_enabled {
        return fail(StatusCode::FORBIDDEN, "目前不允许注册新账户");
    }
    let result = st
        .shared
        .perform(Action::RegisterUser {
            login_key: login_key.to_owned(),
            login_properties: properties,
            group: group.to_owned(),
        })
        .await;
    // Looked up again whatever the reply: a concurrent request may have registered the
    // same identity first, and then logging in is still right.
    let found = st.shared.read(|g| find_login(g, login_key)).flatten();
    match (result, found) {
        (_, Some(Ok(login))) => logged_in(st, &login, AFTER_REGISTRATION),
        (_, Some(Err(msg))) => fail(StatusCode::FORBIDDEN, msg),
        (Ok(reply), None) => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "注册账户失败：{}",
                reply.error_msg.as_deref().unwrap_or("未知错误")
            ),
        ),
        (Err(e), None) => {
            tracing::error!("registering {login_key}: {e}");
            fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "注册账户失败：服务暂时不可用",
            )
        }
    }
}

/// Adds the `Set-Cookie` lines that forget the login cookies.
pub(super) fn clear_login_cookies(st: &HttpState, res: &mut Answer) {
    for (name, path) in [("auth_token", "/"), (ADMIN_2FA_COOKIE, admin_path(st))] {
        SetCookie {
            name,
            value: "",
            path,
            max_age_s: 0,
            secure: secure(st),
        }
        .add_to(res);
    }
}

/// `GET /service/auth/logout`: forgets the login cookies.
pub(super) async fn logout(State(st): State<Arc<HttpState>>) -> Answer {
    let mut res = redirect(PORTAL);
    clear_login_cookies(&st, &mut res);
    res
}

/// Query of `/service/auth/su`.
#[derive(Deserialize)]
pub(super) struct SuQuery {
    uid: i64,
}

/// `GET /service/auth/su?uid=N`: an admin becomes a non-admin user.
pub(super) async fn su(
    State(st): State<Arc<HttpState>>,
    session: Session,
    Query(q): Query<SuQuery>,
) -> Answer {
    let token = session.auth_token.as_deref();
    let decided = st.shared.read(|g| {
        let me = viewer(g, token).map(|ui| &g.users[ui as usize]);
        if !me.is_some_and(|u| g.is_admin(u.id())) {
            return Err("没有权限");
        }
        let target = g.user_by_id(q.uid).ok_or("用户不存在")?;
        if g.is_admin(target.id()) {
            return Err("不能切换到管理员账号");
        }
        login_of(g, target)
    });
    match decided {
        None => fail(StatusCode::SERVICE_UNAVAILABLE, "服务暂时不可用"),
        Some(Err(msg)) => fail(StatusCode::FORBIDDEN, msg),
        Some(Ok(login)) => logged_in(&st, &login, PORTAL),
    }
}
