//! A small HTTP/1.1 server side for nvhttp: GET requests parsed with httparse from any
//! `Read`, responses written to any `Write` (a TCP stream or a rustls stream).

use std::io::{self, Read, Write};

/// Largest request head accepted (a `/pair` phase-1 query with a PEM certificate in hex is
/// about 2.5 KiB).
pub const MAX_HEAD_LEN: usize = 32 * 1024;
/// Largest request body read and discarded (clients send none).
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The socket failed or the peer closed mid-request.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the connection before sending anything (normal end of keep-alive).
    #[error("connection closed")]
    Closed,
    /// The bytes are not an HTTP/1.x request.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The head or body exceeds the limits.
    #[error("request too large")]
    TooLarge,
}

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method token.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query string without `?` (empty if none).
    pub query: String,
    /// The client wants the connection kept open afterwards.
    pub keep_alive: bool,
}

/// Reads one request. `buf` carries bytes read past the previous request (keep-alive).
pub fn read_request(stream: &mut impl Read, buf: &mut Vec<u8>) -> Result<HttpRequest, HttpError> {
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or("").to_owned();
                let target = req.path.unwrap_or("");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let (path, query) = (path.to_owned(), query.to_owned());
                let version = req.version.unwrap_or(0);
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
                };
                let keep_alive = match header("connection").as_deref() {
                    Some("close") => false,
                    Some("keep-alive") => true,
                    _ => version == 1,
                };
                let body_len = match header("content-length") {
                    None => 0,
                    Some(v) => v
                        .parse::<usize>()
                        .map_err(|_| HttpError::Malformed("Content-Length".into()))?,
                };
                if header("transfer-encoding").is_some() {
                    return Err(HttpError::Malformed(
                        "Transfer-Encoding not supported".into(),
                    ));
                }
                if body_len > MAX_BODY_LEN {
                    return Err(HttpError::TooLarge);
                }
                // Discard the body (nvhttp requests carry none).
                let total = head_len + body_len;
                while buf.len() < total {
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        return Err(HttpError::Io(io::ErrorKind::UnexpectedEof.into()));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                buf.drain(..total);
                return Ok(HttpRequest {
                    method,
                    path,
                    query,
                    keep_alive,
                });
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD_LEN {
                    return Err(HttpError::TooLarge);
                }
            }
            Err(e) => return Err(HttpError::Malformed(e.to_string())),
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                HttpError::Closed
            } else {
                HttpError::Io(io::ErrorKind::UnexpectedEof.into())
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Writes a complete response.
pub fn write_response(
    stream: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pipelined_requests_and_discards_body() {
        let data = b"GET /serverinfo?uniqueid=1&uuid=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /applist HTTP/1.0\r\n\r\n";
        let mut r = &data[..];
        let mut buf = Vec::new();
        let a = read_request(&mut r, &mut buf).unwrap();
        assert_eq!(
            (a.method.as_str(), a.path.as_str(), a.query.as_str()),
            ("GET", "/serverinfo", "uniqueid=1&uuid=2")
        );
        assert!(a.keep_alive);
        let b = read_request(&mut r, &mut buf).unwrap();
        assert_eq!(
            (b.path.as_str(), b.query.as_str(), b.keep_alive),
            ("/applist", "", false)
        );
        assert!(matches!(
            read_request(&mut r, &mut buf),
            Err(HttpError::Closed)
        ));
    }

    #[test]
    fn refuses_garbage_and_oversize() {
        let mut buf = Vec::new();
        assert!(matches!(
            read_request(&mut &b"\x00\x01\x02 junk\r\n\r\n"[..], &mut buf),
            Err(HttpError::Malformed(_))
        ));
        let mut buf = Vec::new();
        let big = vec![b'A'; MAX_HEAD_LEN + 8192];
        assert!(matches!(
            read_request(&mut &big[..], &mut buf),
            Err(HttpError::TooLarge)
        ));
        let mut buf = Vec::new();
        assert!(matches!(
            read_request(
                &mut &b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..],
                &mut buf
            ),
            Err(HttpError::Malformed(_))
        ));
        let mut buf = Vec::new();
        assert!(matches!(
            read_request(&mut &b"GET / HT"[..], &mut buf),
            Err(HttpError::Io(_))
        ));
    }
}

/// Drives the request reader with untrusted bytes (the `gs_nvhttp_request` fuzz target and
/// the property test call this): every request in `data`, as on a keep-alive connection,
/// then its query string. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    let mut reader = data;
    let mut buf = Vec::new();
    while let Ok(req) = read_request(&mut reader, &mut buf) {
        let _ = super::query::Query::parse(&req.query);
    }
}

#[cfg(test)]
mod fuzz_tests {
    proptest::proptest! {
        #[test]
        fn random_requests_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            super::fuzz_one(&data);
        }

        #[test]
        fn request_like_text_never_panics(s in "(GET|POST|X) [/a-z?=&%0-9]{0,40} HTTP/1\\.[01]\r\n([A-Za-z-]{1,12}: [ -~]{0,20}\r\n){0,4}\r\n[ -~]{0,40}") {
            super::fuzz_one(s.as_bytes());
        }
    }
}
