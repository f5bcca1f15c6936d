//! Compressed answers: a layer that serves gzip to clients that accept it, from bytes
//! compressed once per change where the handler cached them (boards, templates), else
//! compressing large answers on the way out. Other clients get the same bytes as before.

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

/// Cached answers at least this large are compressed when they are cached.
pub(super) const CACHED_MIN_BYTES: usize = 1024;

/// Answers that are not cached are compressed per request only from this size on: below
/// it, compressing costs the server more than the bytes cost the player.
pub(super) const UNCACHED_MIN_BYTES: usize = 16 * 1024;

/// The gzip of a response's body, made once when the body was cached; the layer sends it
/// instead of the body to clients that accept gzip.
#[derive(Debug, Clone)]
pub(super) struct Gzipped(pub Bytes);

/// A body and, when it is worth it, its gzip: what caches keep.
#[derive(Debug, Clone)]
pub(super) struct Encoded {
    /// The uncompressed body.
    pub identity: Bytes,
    /// Its gzip (best compression: it is made once and sent many times).
    pub gzip: Option<Bytes>,
}

impl Encoded {
    /// Keeps `identity` and compresses it if it is large enough.
    pub fn new(identity: Bytes) -> Encoded {
        let gzip =
            (identity.len() >= CACHED_MIN_BYTES).then(|| gzip(&identity, Compression::best()));
        Encoded { identity, gzip }
    }

    /// Attaches the compressed variant to a response carrying `identity`.
    pub fn attach(&self, res: &mut Response) {
        if let Some(gz) = &self.gzip {
            res.extensions_mut().insert(Gzipped(gz.clone()));
        }
    }
}

/// gzip of `data`. Writing into a `Vec` cannot fail.
fn gzip(data: &[u8], level: Compression) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), level);
    let _ = encoder.write_all(data);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// Whether `Accept-Encoding` allows gzip (`gzip` or `*` with a non-zero quality).
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip_q = None;
    let mut any_q = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip_q = Some(q);
            } else if coding == "*" {
                any_q = Some(q);
            }
        }
    }
    gzip_q.or(any_q).is_some_and(|q| q > 0.0)
}

/// Whether the layer may compress this response: a successful text answer (JSON or
/// HTML) that nobody encoded yet.
fn compressible(res: &Response) -> bool {
    let text = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    res.status() == StatusCode::OK && text && !res.headers().contains_key(header::CONTENT_ENCODING)
}

/// The layer: negotiates gzip for the routes it wraps.
pub(super) async fn negotiate(req: Request, next: Next) -> Response {
    let accepts = accepts_gzip(req.headers());
    let mut res = next.run(req).await;
    let cached = res.extensions_mut().remove::<Gzipped>();
    if !compressible(&res) {
        return res;
    }
    let size = res.body().size_hint().exact();
    if cached.is_none() && size.is_none_or(|n| n < UNCACHED_MIN_BYTES as u64) {
        return res;
    }
    // Every answer that could come compressed varies with the request's encodings.
    res.headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if !accepts {
        return res;
    }
    let gz = match cached {
        Some(Gzipped(gz)) => gz,
        None => {
            let (parts, body) = res.into_parts();
            // The body is one in-memory buffer (its exact size was known).
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return Response::from_parts(parts, Body::empty());
            };
            res = Response::from_parts(parts, Body::empty());
            gzip(&bytes, Compression::fast())
        }
    };
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.remove(header::CONTENT_LENGTH);
    *res.body_mut() = Body::from(gz);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, v.parse().unwrap());
        h
    }

    #[test]
    fn accept_encoding_is_negotiated_with_qualities() {
        assert!(accepts_gzip(&accept("gzip, deflate, br, zstd")));
        assert!(accepts_gzip(&accept("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&accept("*")));
        assert!(!accepts_gzip(&accept("gzip;q=0")));
        assert!(!accepts_gzip(&accept("br, *;q=0")));
        assert!(!accepts_gzip(&accept("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
        assert!(!accepts_gzip(&accept("*, gzip;q=0")));
    }

    #[test]
    fn small_bodies_stay_plain_and_large_ones_round_trip() {
        assert!(Encoded::new(Bytes::from_static(b"{}")).gzip.is_none());
        let body = Bytes::from(
            (0..2000)
                .map(|i| format!("{{\"uid\":{i},\"score\":{}}}", i * 7))
                .collect::<Vec<_>>()
                .join(","),
        );
        let encoded = Encoded::new(body.clone());
        let gz = encoded.gzip.expect("compressed");
        assert!(gz.len() < body.len() / 3);
        let mut back = Vec::new();
        GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, body);
    }
}
