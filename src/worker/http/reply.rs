//! What handlers send back: JSON answers (from values or cached bytes), plain-text and
//! HTML info pages, redirects, and `Set-Cookie` lines.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

/// A finished HTTP response.
pub(super) type Answer = Response;

/// The answer while the worker has no synchronized game.
pub(super) const NO_GAME_JSON: &[u8] =
    "{\"error\":\"NO_GAME\",\"error_msg\":\"服务暂时不可用\"}".as_bytes();

/// Already serialized JSON, HTTP 200.
pub(super) fn json_bytes(body: Bytes) -> Answer {
    json_with_status(StatusCode::OK, body)
}

fn json_with_status(status: StatusCode, body: Bytes) -> Answer {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Serializes a JSON value (HTTP 200).
pub(super) fn json_value(value: &Value) -> Answer {
    json_bytes(to_bytes(value))
}

/// The JSON text of a value. Serializing a `Value` cannot fail (its keys are strings).
pub(super) fn to_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// `NO_GAME` (HTTP 200, like every wish answer).
pub(super) fn no_game() -> Answer {
    json_bytes(Bytes::from_static(NO_GAME_JSON))
}

/// HTTP 400 for malformed bodies and missing or ill-typed parameters.
pub(super) fn bad_request() -> Answer {
    json_with_status(
        StatusCode::BAD_REQUEST,
        Bytes::from_static(
            "{\"error\":\"INVALID_ARGUMENT\",\"error_msg\":\"参数错误\"}".as_bytes(),
        ),
    )
}

/// A plain-text answer (attachments and templates report errors this way).
pub(super) fn text(status: StatusCode, message: &str) -> Answer {
    let mut res = Response::new(Body::from(message.to_owned()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Escapes text for HTML element content and attribute values.
pub(super) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// An HTML page telling the player what went wrong, with a link back to the portal.
pub(super) fn info_page(status: StatusCode, title: &str, message: &str) -> Answer {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{m}</p><br><p><a href=\"/\">返回比赛平台</a></p></body></html>",
        t = escape_html(title),
        m = escape_html(message),
    );
    let mut res = Response::new(Body::from(html));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// A 302 redirect to a path of this site or to an identity provider. A location that
/// cannot be a header (never built by this crate) is answered with an error page.
pub(super) fn redirect(location: &str) -> Answer {
    let Ok(value) = HeaderValue::from_str(location) else {
        tracing::error!("cannot redirect: the location has invalid characters");
        return info_page(StatusCode::INTERNAL_SERVER_ERROR, "出错了", "跳转地址无效");
    };
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::FOUND;
    res.headers_mut().insert(header::LOCATION, value);
    res
}

/// One `Set-Cookie` header.
#[derive(Debug, Clone)]
pub(super) struct SetCookie<'a> {
    /// Cookie name.
    pub name: &'a str,
    /// Cookie value; must be cookie-safe (see [`cookie_safe`]).
    pub value: &'a str,
    /// `Path`.
    pub path: &'a str,
    /// `Max-Age` in seconds; 0 deletes the cookie.
    pub max_age_s: u64,
    /// Add `Secure` (the site is served over https).
    pub secure: bool,
}

impl SetCookie<'_> {
    /// Adds the cookie to a response; always HttpOnly and SameSite=Lax.
    pub fn add_to(&self, res: &mut Response) {
        let line = format!(
            "{}={}; Path={}; Max-Age={}; HttpOnly; SameSite=Lax{}",
            self.name,
            self.value,
            self.path,
            self.max_age_s,
            if self.secure { "; Secure" } else { "" }
        );
        // Values are checked by `cookie_safe` and paths come from the configuration;
        // a bad one is dropped (and logged) rather than breaking the response.
        match HeaderValue::from_str(&line) {
            Ok(v) => {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Err(_) => tracing::error!("cannot set cookie {}: invalid characters", self.name),
        }
    }
}

/// Whether a value can be put into a cookie as it is (no quoting needed).
pub(super) fn cookie_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=!#$%&'()*:<>?@[]^`{|}".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn cookie_values_without_separators_are_safe() {
        assert!(cookie_safe("1_authtoken00ab"));
        assert!(!cookie_safe("a;b"));
        assert!(!cookie_safe("a b"));
        assert!(!cookie_safe("a,b"));
        assert!(!cookie_safe(""));
    }
}
