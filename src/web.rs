//! Small HTTP helpers shared by the worker (player API and UI) and the admin panel: URL
//! encoding and request cookies, on the crates made for them.

use axum::http::{header, HeaderMap};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but ASCII letters, digits and `-._~` (RFC 3986's unreserved characters).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a URL path segment or query value (also `x-www-form-urlencoded`):
/// everything but ASCII letters, digits and `-._~`.
pub fn urlencode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Decodes an `application/x-www-form-urlencoded` body or query into pairs (`+` is a
/// space; bad escapes are kept as they are).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The value of cookie `name`, if the request has it (a quoted value is unquoted).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_and_forms_decode() {
        assert_eq!(urlencode("a b/é-._~"), "a%20b%2F%C3%A9-._~");
        assert_eq!(
            form_pairs(b"a=a+b%20c%zz%&empty=&bare&=x"),
            [
                ("a".into(), "a b c%zz%".into()),
                ("empty".into(), String::new()),
                ("bare".into(), String::new()),
                (String::new(), "x".into()),
            ]
        );
    }

    #[test]
    fn cookies_are_found_among_others_and_unquoted() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; auth_token=xyz ; b=\"2\"".parse().unwrap());
        h.append("cookie", "c=3".parse().unwrap());
        assert_eq!(cookie(&h, "auth_token").as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "d"), None);
        assert_eq!(cookie(&HeaderMap::new(), "a"), None);
    }
}
