//! `[api] frontend_dir`: serves a static build of another frontend at `/` instead of the
//! built-in UI, with the single-page fallback to `index.html`; no path leaves the folder.

use super::super::attachment::open_inside;
use crate::safe_path::relative_path;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::io::Read;
use std::path::PathBuf;

/// Content type by file extension (what a frontend build contains).
fn content_type(path: &std::path::Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// What a request path resolves to.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A file inside the folder (read fully: frontend builds are small files).
    File(Vec<u8>, &'static str),
    /// The path is not a file: serve `index.html` (the single-page app routes it).
    Fallback,
    /// The path would leave the folder (`..`, a link pointing outside).
    Refused,
}

fn find(root: &std::path::Path, rel: &str) -> Found {
    if rel.is_empty() {
        return Found::Fallback;
    }
    let Some(rel_path) = relative_path(rel) else {
        return Found::Refused;
    };
    match open_inside(root, &rel_path) {
        Ok((mut file, len)) => {
            let mut bytes = Vec::with_capacity(len as usize);
            match file.read_to_end(&mut bytes) {
                Ok(_) => Found::File(bytes, content_type(&rel_path)),
                Err(_) => Found::Fallback,
            }
        }
        Err((StatusCode::FORBIDDEN, _)) => Found::Refused,
        Err(_) => Found::Fallback,
    }
}

async fn serve(root: PathBuf, rel: String) -> Response {
    let found = tokio::task::spawn_blocking(move || {
        let found = find(&root, &rel);
        if found == Found::Fallback {
            // A missing index is a misconfiguration the operator must see.
            return match find(&root, "index.html") {
                Found::File(b, t) => Found::File(b, t),
                _ => Found::Refused,
            };
        }
        found
    })
    .await
    .unwrap_or(Found::Refused);
    match found {
        Found::File(bytes, ty) => {
            let mut res = Response::new(Body::from(bytes));
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
            res
        }
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The routes serving `root` at `/` (the `/service/` routes keep priority).
pub fn routes<S: Clone + Send + Sync + 'static>(root: PathBuf) -> Router<S> {
    let at_root = root.clone();
    Router::new()
        .route("/", get(move || serve(at_root.clone(), String::new())))
        .route(
            "/{*path}",
            get(move |Path(path): Path<String>| serve(root.clone(), path)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_fallback_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(root.join("index.html"), "<html>").unwrap();
        std::fs::write(root.join("assets/app.js"), "x").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "s").unwrap();
        assert_eq!(
            find(&root, "assets/app.js"),
            Found::File(b"x".to_vec(), "text/javascript; charset=utf-8")
        );
        assert_eq!(find(&root, "game/challenge/1"), Found::Fallback);
        assert_eq!(find(&root, "assets"), Found::Fallback);
        assert_eq!(find(&root, "../secret.txt"), Found::Refused);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link")).unwrap();
            assert_eq!(find(&root, "link"), Found::Refused);
        }
    }
}
