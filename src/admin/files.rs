//! File managers for the templates, writeups, media and attachments directories: list,
//! upload, edit text files and download. No path ever leaves its directory.

use super::auth::Viewer;
use super::view::ser;
use super::Admin;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The managed directories.
pub const AREAS: [&str; 4] = ["templates", "writeups", "media", "attachments"];

/// Largest text file opened in the editor.
const MAX_EDIT_BYTES: u64 = 2 * 1024 * 1024;

fn root(admin: &Admin, area: &str) -> Option<PathBuf> {
    let p = &admin.config.paths;
    Some(match area {
        "templates" => p.templates.clone(),
        "writeups" => p.writeups.clone(),
        "media" => p.media.clone(),
        "attachments" => p.attachments.clone(),
        _ => return None,
    })
}

/// Resolves `rel` under `root`: only plain names, and the real path (symlinks followed)
/// must stay inside the real root. `must_exist: false` allows a new last component.
pub fn resolve(root: &Path, rel: &str, must_exist: bool) -> Result<PathBuf, String> {
    let rel = rel.trim_matches('/');
    let rel_path = Path::new(rel);
    if rel.contains('\\') || rel.contains('\0') {
        return Err("bad path".into());
    }
    if !rel_path
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "`{rel}`: only plain names below the directory are allowed"
        ));
    }
    let real_root = std::fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
    if rel.is_empty() {
        return Ok(real_root);
    }
    let joined = real_root.join(rel_path);
    let real = match std::fs::canonicalize(&joined) {
        Ok(p) => p,
        Err(_) if !must_exist => {
            let parent = joined.parent().ok_or("bad path")?;
            let name = joined.file_name().ok_or("bad path")?;
            std::fs::canonicalize(parent)
                .map_err(|_| format!("`{rel}`: its directory does not exist"))?
                .join(name)
        }
        Err(_) => return Err(format!("`{rel}` does not exist")),
    };
    if !real.starts_with(&real_root) {
        return Err(format!("`{rel}` leaves the directory"));
    }
    if let Ok(meta) = std::fs::symlink_metadata(&real) {
        if meta.file_type().is_symlink() {
            return Err(format!("`{rel}` is a symbolic link"));
        }
    }
    Ok(real)
}

#[derive(Serialize)]
struct Entry {
    name: String,
    path: String,
    is_dir: bool,
    size: u64,
    modified: String,
}

/// The path `rel` inside file area `area`, or the answer refusing it (unknown area, or a
/// path that would leave the area's directory).
// The refusal is returned once per request, straight to axum: boxing would only add a step.
#[allow(clippy::result_large_err)]
fn locate(admin: &Admin, area: &str, rel: &str, must_exist: bool) -> Result<PathBuf, Response> {
    let base = root(admin, area).ok_or_else(|| super::view::not_found("file area"))?;
    resolve(&base, rel, must_exist).map_err(bad)
}

fn bad(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

fn join_rel(dir: &str, name: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

async fn list(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    UrlPath(area): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(base) = root(&admin, &area) else {
        return super::view::not_found("file area");
    };
    let dir = q
        .get("dir")
        .cloned()
        .unwrap_or_default()
        .trim_matches('/')
        .to_string();
    let path = match resolve(&base, &dir, true) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let mut entries = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(&path).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let Ok(meta) = e.metadata().await else {
                continue;
            };
            let name = e.file_name().to_string_lossy().into_owned();
            let modified = crate::clock::modified_s(&meta)
                .map(|s| admin.time_s(s))
                .unwrap_or_default();
            entries.push(Entry {
                path: join_rel(&dir, &name),
                name,
                is_dir: meta.is_dir(),
                size: meta.len(),
                modified,
            });
        }
    }
    entries.sort_by(|a, b| (!a.is_dir, &a.name).cmp(&(!b.is_dir, &b.name)));
    let parent = (!dir.is_empty()).then(|| {
        dir.rsplit_once('/')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default()
    });
    let ctx = minijinja::context! {
        areas => ser(AREAS), area => area.clone(), dir => dir, parent => parent, entries => ser(entries),
        editing => None::<String>, msg => q.get("msg").cloned(),
    };
    admin.render(&v, "files.html", &format!("Files: {area}"), ctx)
}

async fn download(
    State(admin): State<Arc<Admin>>,
    UrlPath(area): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let rel = q.get("path").cloned().unwrap_or_default();
    let path = match locate(&admin, &area, &rel, true) {
        Ok(p) if p.is_file() => p,
        Ok(_) => return bad(format!("`{rel}` is not a file")),
        Err(refusal) => return refusal,
    };
    let name: String = path
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
                .collect()
        })
        .unwrap_or_default();
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                // Only ever a download, never rendered (uploads are players' files).
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => bad(format!("cannot read `{rel}`: {e}")),
    }
}

async fn edit(
    State(admin): State<Arc<Admin>>,
    Extension(v): Extension<Viewer>,
    UrlPath(area): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let rel = q.get("path").cloned().unwrap_or_default();
    let path = match locate(&admin, &area, &rel, false) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let content = match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_dir() => return bad(format!("`{rel}` is a directory")),
        Ok(m) if m.len() > MAX_EDIT_BYTES => {
            return bad(format!("`{rel}` is too big to edit here; download it"))
        }
        Ok(_) => match tokio::fs::read(&path).await.map(String::from_utf8) {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => return bad(format!("`{rel}` is not UTF-8 text; download it")),
            Err(e) => return bad(format!("cannot read `{rel}`: {e}")),
        },
        Err(_) => String::new(),
    };
    let ctx = minijinja::context! { areas => ser(AREAS), area => area.clone(), editing => rel.clone(), content => content };
    admin.render(&v, "files.html", &format!("Edit {area}/{rel}"), ctx)
}

async fn save(
    State(admin): State<Arc<Admin>>,
    UrlPath(area): UrlPath<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let rel = form.get("path").cloned().unwrap_or_default();
    let path = match locate(&admin, &area, &rel, false) {
        Ok(p) if !p.is_dir() => p,
        Ok(_) => return bad(format!("`{rel}` is a directory")),
        Err(refusal) => return refusal,
    };
    let content = form.get("content").cloned().unwrap_or_default();
    match tokio::fs::write(&path, content).await {
        Ok(()) => {
            let dir = rel
                .trim_matches('/')
                .rsplit_once('/')
                .map(|(d, _)| d.to_string())
                .unwrap_or_default();
            admin.back(
                &format!("/files/{area}?dir={}", crate::web::urlencode(&dir)),
                &format!("saved {rel}"),
            )
        }
        Err(e) => bad(format!("cannot write `{rel}`: {e}")),
    }
}

async fn upload(
    State(admin): State<Arc<Admin>>,
    UrlPath(area): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    mut multipart: Multipart,
) -> Response {
    let Some(base) = root(&admin, &area) else {
        return super::view::not_found("file area");
    };
    let dir = q.get("dir").cloned().unwrap_or_default();
    let mut saved = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(format!("bad upload: {e}")),
        };
        let Some(name) = field
            .file_name()
            .map(str::to_owned)
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let rel = join_rel(&dir, &name);
        let path = match resolve(&base, &rel, false) {
            Ok(p) => p,
            Err(e) => return bad(e),
        };
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return bad(format!("bad upload: {e}")),
        };
        if let Err(e) = tokio::fs::write(&path, &bytes).await {
            return bad(format!("cannot write `{rel}`: {e}"));
        }
        saved.push(rel);
    }
    admin.back(
        &format!("/files/{area}?dir={}", crate::web::urlencode(&dir)),
        &format!("uploaded {}", saved.join(", ")),
    )
}

/// The file manager routes.
pub fn routes() -> Router<Arc<Admin>> {
    Router::new()
        .route("/files/{area}", get(list))
        .route("/files/{area}/download", get(download))
        .route("/files/{area}/edit", get(edit))
        .route("/files/{area}/save", post(save))
        .route("/files/{area}/upload", post(upload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "x").unwrap();
        assert!(resolve(&root, "sub/a.txt", true).is_ok());
        assert!(resolve(&root, "sub/new.txt", false).is_ok());
        for bad in ["../x", "sub/../../x", "/etc/passwd", "a\\b", "nope/x.txt"] {
            assert!(resolve(&root, bad, false).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), root.join("out")).unwrap();
            assert!(resolve(&root, "out", true).is_err());
            assert!(
                resolve(&root, "out/root/sub/a.txt", true)
                    .is_ok_and(|p| p.starts_with(std::fs::canonicalize(&root).unwrap()))
                    || resolve(&root, "out/x", false).is_err()
            );
        }
    }
}
