//! `/service/wish/writeup`: POST tells a player whether a writeup is required and what they
//! sent; PUT uploads one (multipart), stored as `<writeups>/<uid>/<uid>_writeup_<ms><ext>`.

use super::reply::{bad_request, json_value, no_game, Answer};
use super::request::{viewer, Session};
use super::HttpState;
use crate::clock::now_ms;
use crate::rules;
use crate::state::answers::error_answer;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Largest accepted file.
pub const MAX_FILE_BYTES: u64 = rules::WRITEUP_MAX_SIZE_MB * 1024 * 1024;

/// Largest upload request: the file plus room for the form's other fields.
pub(super) const MAX_REQUEST_BYTES: usize = MAX_FILE_BYTES as usize + 1024 * 1024;

/// Accepted `publish` choices.
pub const PUBLISH: &[&str] = &["Always-Yes", "Always-No", "Maybe"];

/// Accepted `rights` choices.
pub const RIGHTS: &[&str] = &["CC0", "CC-BY-NC", "All-Rights-Reserved"];

/// Longest accepted text field (`publish`, `rights`).
const MAX_TEXT_FIELD_BYTES: usize = 256;

/// Keys of `metadata.json` that players see.
const SHOWN_METADATA: &[&str] = &["filename", "size", "sha256", "publish", "rights"];

fn invalid() -> Answer {
    json_value(&error_answer("INVALID_ARGUMENT", "参数错误"))
}

/// Extensions a writeup is stored under; anything else is stored as `.bin`, so that no
/// upload is ever kept as something a web server would run or render (`.php`, `.html`,
/// `.htaccess`, …). The original name stays in the metadata.
pub const WRITEUP_EXTENSIONS: &[&str] = &[
    ".pdf", ".md", ".txt", ".zip", ".7z", ".rar", ".tar.gz", ".tgz", ".tar.xz", ".tar", ".gz",
    ".docx", ".doc", ".odt", ".ipynb", ".png", ".jpg", ".jpeg",
];

/// The extension an uploaded file is stored under: its lower-case trailing `.xxx` parts
/// (so `.tar.gz` stays whole) when they end in one of [`WRITEUP_EXTENSIONS`], else
/// `.bin`. Never contains a path separator.
pub fn file_ext(name: &str) -> String {
    let lower = name.to_lowercase();
    WRITEUP_EXTENSIONS
        .iter()
        // Longest first: `.tar.gz` before `.gz`; the name must have a stem.
        .filter(|ext| lower.ends_with(*ext) && lower.len() > ext.len())
        .max_by_key(|ext| ext.len())
        .map_or_else(|| ".bin".to_owned(), |ext| (*ext).to_owned())
}

/// The user's directory of writeups.
fn user_dir(st: &HttpState, uid: i64) -> PathBuf {
    st.shared.config.paths.writeups.join(uid.to_string())
}

/// NO_USER, NO_GAME, the writeup check and the policy; yields (uid, writeup required).
fn check(st: &HttpState, session: &Session) -> Result<(i64, bool), Answer> {
    match decide(st, session.auth_token.as_deref()) {
        None => Err(no_game()),
        Some(Err(refusal)) => Err(json_value(&refusal)),
        Some(Ok(ok)) => Ok(ok),
    }
}

/// The checks of [`check`] as values: `None` without a game.
fn decide(st: &HttpState, token: Option<&str>) -> Option<Result<(i64, bool), Value>> {
    st.shared.read(|g| {
        let ui = viewer(g, token).ok_or_else(|| error_answer("NO_USER", "未登录"))?;
        let u = &g.users[ui as usize];
        u.check_submit_writeup()
            .map_err(|(code, msg)| error_answer(code, msg))?;
        if !g.policy().can_submit_writeup {
            return Err(error_answer("POLICY_ERROR", "现在不允许提交Writeup"));
        }
        Ok((u.id(), g.writeup_required(ui)))
    })
}

/// `POST /service/wish/writeup`: the status.
pub(super) async fn status(State(st): State<Arc<HttpState>>, session: Session) -> Answer {
    json_value(&status_answer(&st, &session).await)
}

/// The status answer (or the refusal) as a value, for the endpoint and the UI's page.
pub(super) async fn status_answer(st: &HttpState, session: &Session) -> Value {
    let token = session.auth_token.as_deref();
    let (uid, required) = match decide(st, token) {
        None => return serde_json::from_slice(super::reply::NO_GAME_JSON).unwrap_or(Value::Null),
        Some(Err(refusal)) => return refusal,
        Some(Ok(ok)) => ok,
    };
    let path = user_dir(st, uid).join("metadata.json");
    let submitted = match tokio::fs::read(&path).await {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(meta) => {
                let shown: Map<String, Value> = SHOWN_METADATA
                    .iter()
                    .map(|k| {
                        (
                            (*k).to_owned(),
                            meta.get(*k).cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                Value::Object(shown)
            }
            Err(e) => {
                tracing::error!("{}: {e}", path.display());
                Value::Null
            }
        },
        Err(_) => Value::Null,
    };
    json!({
        "error": null,
        "writeup_required": required,
        "submitted_metadata": submitted,
        "max_size_mb": rules::WRITEUP_MAX_SIZE_MB,
    })
}

/// Seconds to wait before the next upload, judged by the metadata file's age.
async fn cooldown_remaining(dir: &Path) -> Option<f64> {
    let modified = tokio::fs::metadata(dir.join("metadata.json"))
        .await
        .ok()?
        .modified()
        .ok()?;
    let elapsed = modified.elapsed().map(|d| d.as_secs_f64()).unwrap_or(0.0);
    (elapsed < rules::WRITEUP_COOLDOWN_S).then_some(rules::WRITEUP_COOLDOWN_S - elapsed)
}

/// Why an upload stopped.
enum Stop {
    /// Malformed multipart: HTTP 400.
    Malformed,
    /// The file is over the limit.
    TooLarge,
    /// A missing, repeated or bad field.
    Invalid,
    /// Our own disk failed.
    Io(std::io::Error),
}

fn multipart_stop(e: axum::extract::multipart::MultipartError) -> Stop {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Stop::TooLarge
    } else {
        Stop::Malformed
    }
}

/// A received file, still under its temporary name.
struct Received {
    temp: PathBuf,
    size: u64,
    sha256: String,
    original_name: String,
}

async fn read_text(mut field: Field<'_>) -> Result<String, Stop> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_stop)? {
        if buf.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(Stop::Invalid);
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| Stop::Invalid)
}

/// Streams the file to `temp`, hashing and counting; never holds it all in memory.
async fn receive_file(mut field: Field<'_>, temp: &Path) -> Result<Received, Stop> {
    let original_name = field.file_name().unwrap_or_default().to_owned();
    let mut out = tokio::fs::File::create(temp).await.map_err(Stop::Io)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_stop)? {
        size += chunk.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(Stop::TooLarge);
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(Stop::Io)?;
    }
    out.flush().await.map_err(Stop::Io)?;
    out.sync_all().await.map_err(Stop::Io)?;
    Ok(Received {
        temp: temp.to_owned(),
        size,
        sha256: hex::encode(hasher.finalize()),
        original_name,
    })
}

/// The form's fields: (file, publish, rights), each at most once.
async fn read_form(
    multipart: &mut Multipart,
    temp: &Path,
) -> Result<(Received, String, String), Stop> {
    let (mut file, mut publish, mut rights) = (None, None, None);
    while let Some(field) = multipart.next_field().await.map_err(multipart_stop)? {
        match field.name() {
            Some("file") if file.is_none() => file = Some(receive_file(field, temp).await?),
            Some("publish") if publish.is_none() => publish = Some(read_text(field).await?),
            Some("rights") if rights.is_none() => rights = Some(read_text(field).await?),
            Some("file" | "publish" | "rights") => return Err(Stop::Invalid),
            // Unknown fields are skipped by the next `next_field`.
            _ => {}
        }
    }
    match (file, publish, rights) {
        (Some(f), Some(p), Some(r))
            if PUBLISH.contains(&p.as_str()) && RIGHTS.contains(&r.as_str()) =>
        {
            Ok((f, p, r))
        }
        _ => Err(Stop::Invalid),
    }
}

/// Writes `bytes` to `path` through a temporary file, so readers never see half of it.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

/// `PUT /service/wish/writeup` (multipart: `file`, `publish`, `rights`).
pub(super) async fn upload(
    State(st): State<Arc<HttpState>>,
    session: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Answer {
    let (uid, required) = match check(&st, &session) {
        Ok(ok) => ok,
        Err(a) => return a,
    };
    let dir = user_dir(&st, uid);
    if let Some(remaining) = cooldown_remaining(&dir).await {
        return json_value(&error_answer(
            "RATE_LIMIT",
            &format!("提交太频繁，请等待 {remaining:.1} 秒"),
        ));
    }
    let Ok(mut multipart) = multipart else {
        return bad_request();
    };
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        tracing::error!("cannot create {}: {e}", dir.display());
        return json_value(&error_answer("INTERNAL_ERROR", "服务器存储错误"));
    }
    let temp = dir.join(format!(
        ".upload-{}-{}.part",
        now_ms(),
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let (file, publish, rights) = match read_form(&mut multipart, &temp).await {
        Ok(form) => form,
        Err(stop) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return match stop {
                Stop::Malformed => bad_request(),
                Stop::TooLarge => json_value(&error_answer("FILE_TOO_LARGE", "Writeup 文件太大")),
                Stop::Invalid => invalid(),
                Stop::Io(e) => {
                    tracing::error!("writeup upload of U#{uid}: {e}");
                    json_value(&error_answer("INTERNAL_ERROR", "服务器存储错误"))
                }
            };
        }
    };
    let timestamp_ms = now_ms();
    let filename = format!(
        "{uid}_writeup_{timestamp_ms}{}",
        file_ext(&file.original_name)
    );
    let metadata = json!({
        "publish": publish,
        "rights": rights,
        "timestamp_ms": timestamp_ms,
        "size": file.size,
        "filename": filename,
        "original_filename": file.original_name,
        "sha256": file.sha256,
    });
    let stored = async {
        tokio::fs::rename(&file.temp, dir.join(&filename)).await?;
        let text = serde_json::to_vec_pretty(&metadata).unwrap_or_default();
        write_atomically(&dir.join("metadata.json"), &text).await
    }
    .await;
    if let Err(e) = stored {
        let _ = tokio::fs::remove_file(&file.temp).await;
        tracing::error!("writeup upload of U#{uid}: {e}");
        return json_value(&error_answer("INTERNAL_ERROR", "服务器存储错误"));
    }
    // Only this worker handled the upload: it tells the staff, once.
    let message = st.shared.read(|g| {
        crate::notify::messages::writeup(g, uid, required, &file.original_name, file.size)
    });
    if let Some((channel, text)) = message {
        st.shared.notifier.notify(&channel, text);
    }
    json_value(&json!({"error": null}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_the_reference() {
        assert_eq!(file_ext("report.PDF"), ".pdf");
        assert_eq!(file_ext("a.tar.gz"), ".tar.gz");
        assert_eq!(file_ext("my.final.pdf"), ".pdf");
        assert_eq!(file_ext("shell.php"), ".bin");
        assert_eq!(file_ext(".htaccess"), ".bin");
        assert_eq!(file_ext("x.pdf.php"), ".bin");
        assert_eq!(file_ext("page.HTML"), ".bin");
        assert_eq!(file_ext(".pdf"), ".bin");
        assert_eq!(file_ext("noext"), ".bin");
        assert_eq!(file_ext("a b.c d.md"), ".md");
        assert_eq!(file_ext("../../etc/passwd"), ".bin");
        assert_eq!(file_ext("x.p/df"), ".bin");
        assert_eq!(file_ext("a..pdf"), ".pdf");
        assert_eq!(file_ext("中文.docx"), ".docx");
    }
}
