//! RTSP/1.0 messages as the GameStream client writes and reads them (§4.1).
//!
//! Requests are parsed from whatever bytes have arrived so far: [`parse_request`] returns
//! `Ok(None)` until the head and the `Content-length` body are complete, then a borrowed
//! [`Request`] and the number of bytes it used. Nothing is allocated; headers live in a
//! fixed array of [`MAX_HEADERS`]. Client quirks accepted: `Content-length` spelled in any
//! case, `\n` or `\r\n` line endings, any whitespace around header values.
//!
//! Responses are emitted exactly as the client's parser needs them: protocol token
//! `RTSP/1.0`, `CSeq` first (at least one header is mandatory), `Name: value` with exactly
//! one space, a blank line, then the body. The host closes the connection after writing it.

use core::fmt;

/// Most header lines accepted in one request (the client sends at most 7).
pub const MAX_HEADERS: usize = 32;
/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// Largest request body accepted, in bytes (an ANNOUNCE body is about 1.5 KiB).
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// The only protocol token either side accepts.
pub const PROTOCOL: &str = "RTSP/1.0";

/// Why a request could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No end of the head within [`MAX_HEAD_LEN`] bytes.
    #[error("request head exceeds {MAX_HEAD_LEN} bytes")]
    HeadTooLarge,
    /// The head is not valid UTF-8.
    #[error("request head is not UTF-8")]
    NotUtf8,
    /// The request line is not `METHOD target RTSP/1.0`.
    #[error("malformed request line")]
    RequestLine,
    /// The protocol token is not `RTSP/1.0`.
    #[error("unsupported protocol version")]
    Version,
    /// A header line has no `:` or an empty name.
    #[error("malformed header line")]
    HeaderLine,
    /// More than [`MAX_HEADERS`] header lines.
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    /// `Content-length` is not a decimal number.
    #[error("invalid Content-length")]
    ContentLength,
    /// `Content-length` exceeds [`MAX_BODY_LEN`].
    #[error("body exceeds {MAX_BODY_LEN} bytes")]
    BodyTooLarge,
    /// A response's status line is not `RTSP/1.0 <code> <reason>`.
    #[error("malformed status line")]
    StatusLine,
}

/// The request methods of the handshake (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// `OPTIONS`
    Options,
    /// `DESCRIBE`
    Describe,
    /// `SETUP`
    Setup,
    /// `ANNOUNCE`
    Announce,
    /// `PLAY`
    Play,
    /// Any other token (the host answers 404).
    Other(&'a str),
}

impl<'a> Method<'a> {
    fn parse(token: &'a str) -> Self {
        match token {
            "OPTIONS" => Self::Options,
            "DESCRIBE" => Self::Describe,
            "SETUP" => Self::Setup,
            "ANNOUNCE" => Self::Announce,
            "PLAY" => Self::Play,
            other => Self::Other(other),
        }
    }

    /// The method token as sent on the wire.
    pub fn as_str(&self) -> &'a str {
        match self {
            Self::Options => "OPTIONS",
            Self::Describe => "DESCRIBE",
            Self::Setup => "SETUP",
            Self::Announce => "ANNOUNCE",
            Self::Play => "PLAY",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `Name: value` header line (value without surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header<'a> {
    /// Header name as sent.
    pub name: &'a str,
    /// Header value, trimmed.
    pub value: &'a str,
}

/// Fixed-capacity header list, shared by requests and parsed responses.
#[derive(Debug, Clone, Copy)]
struct Headers<'a> {
    list: [Header<'a>; MAX_HEADERS],
    len: usize,
}

impl<'a> Headers<'a> {
    /// Parses header lines until the end of `lines`.
    fn parse(lines: &mut core::str::Split<'a, char>) -> Result<Self, ParseError> {
        let mut list = [Header::default(); MAX_HEADERS];
        let mut len = 0;
        for line in lines {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':').ok_or(ParseError::HeaderLine)?;
            let name = name.trim();
            if name.is_empty() {
                return Err(ParseError::HeaderLine);
            }
            if len == MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            list[len] = Header {
                name,
                value: value.trim(),
            };
            len += 1;
        }
        Ok(Self { list, len })
    }

    fn as_slice(&self) -> &[Header<'a>] {
        &self.list[..self.len]
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.as_slice()
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// A parsed request, borrowing the bytes it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Method token.
    pub method: Method<'a>,
    /// Request target, verbatim (the host derives nothing from it except the SETUP stream).
    pub target: &'a str,
    headers: Headers<'a>,
    /// Body of exactly `Content-length` bytes (empty without the header).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// All header lines in order.
    pub fn headers(&self) -> &[Header<'a>] {
        self.headers.as_slice()
    }

    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name)
    }

    /// The `CSeq` value, if present and numeric.
    pub fn cseq(&self) -> Option<u32> {
        self.header("CSeq")?.parse().ok()
    }
}

/// Finds the end of the head: returns (head length without the blank line, total head
/// length including it).
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            // "\n\n" or "\n\r\n" ends the head.
            if buf.get(i + 1) == Some(&b'\n') {
                return Some((i, i + 2));
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// Splits a complete head into its start line and header lines; `Ok(None)` when the head
/// is not complete yet.
#[allow(clippy::type_complexity)]
fn split_head(buf: &[u8]) -> Result<Option<(&str, core::str::Split<'_, char>, usize)>, ParseError> {
    let Some((head_len, total)) = find_head_end(buf) else {
        return if buf.len() > MAX_HEAD_LEN {
            Err(ParseError::HeadTooLarge)
        } else {
            Ok(None)
        };
    };
    if head_len > MAX_HEAD_LEN {
        return Err(ParseError::HeadTooLarge);
    }
    let head = core::str::from_utf8(&buf[..head_len]).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = head.split('\n');
    let first = lines.next().unwrap_or("");
    let first = first.strip_suffix('\r').unwrap_or(first);
    Ok(Some((first, lines, total)))
}

/// Parses one request from the start of `buf`.
///
/// Returns `Ok(None)` while more bytes are needed, `Ok(Some((request, used)))` once the
/// head and its `Content-length` body are complete (`used` bytes of `buf` belong to it),
/// and an error for bytes that can never become a valid request. Never panics.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request<'_>, usize)>, ParseError> {
    let Some((line, mut lines, head_total)) = split_head(buf)? else {
        return Ok(None);
    };
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::RequestLine);
    };
    if version != PROTOCOL {
        return Err(ParseError::Version);
    }
    let headers = Headers::parse(&mut lines)?;
    let body_len = match headers.get("Content-length") {
        None => 0,
        Some(v) => {
            if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::ContentLength);
            }
            let n: u64 = v.parse().map_err(|_| ParseError::ContentLength)?;
            if n > MAX_BODY_LEN as u64 {
                return Err(ParseError::BodyTooLarge);
            }
            n as usize
        }
    };
    let end = head_total + body_len;
    if buf.len() < end {
        return Ok(None);
    }
    let request = Request {
        method: Method::parse(method),
        target,
        headers,
        body: &buf[head_total..end],
    };
    Ok(Some((request, end)))
}

/// A response to emit (host side) or one parsed by [`ParsedResponse::parse`] (test clients).
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// Status code (200, 400, 403, 404, 500, ...).
    pub status: u16,
    /// Echoed `CSeq` of the request; `None` only when the request had none (then `CSeq: 0`
    /// is written so the reply still has the mandatory header line).
    pub cseq: Option<u32>,
    /// Further header lines, written in order after `CSeq`.
    pub headers: &'a [Header<'a>],
    /// Body, written after the blank line (text without NUL bytes for the client).
    pub body: &'a [u8],
}

/// Why a response could not be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("output buffer too small: need {need} bytes, have {have}")]
pub struct BufferTooSmall {
    /// Bytes needed.
    pub need: usize,
    /// Bytes available.
    pub have: usize,
}

/// The reason phrase the host writes for a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "BAD REQUEST",
        403 => "FORBIDDEN",
        404 => "NOT FOUND",
        454 => "SESSION NOT FOUND",
        500 => "INTERNAL SERVER ERROR",
        503 => "SERVICE UNAVAILABLE",
        _ => "UNKNOWN",
    }
}

/// `io::Write`-free writer into a byte slice that counts what it would write.
pub(crate) struct SliceWriter<'b> {
    pub(crate) out: Option<&'b mut [u8]>,
    pub(crate) pos: usize,
}

impl fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Bytes `write` produces (a measuring pass: nothing is stored).
pub(crate) fn measured(write: impl Fn(&mut SliceWriter<'_>)) -> usize {
    let mut w = SliceWriter { out: None, pos: 0 };
    write(&mut w);
    w.pos
}

/// Runs `write` into the start of `out` after checking it fits; returns the bytes written.
pub(crate) fn emit_into(
    out: &mut [u8],
    write: impl Fn(&mut SliceWriter<'_>),
) -> Result<usize, BufferTooSmall> {
    let need = measured(&write);
    if out.len() < need {
        return Err(BufferTooSmall {
            need,
            have: out.len(),
        });
    }
    let mut w = SliceWriter {
        out: Some(out),
        pos: 0,
    };
    write(&mut w);
    Ok(w.pos)
}

/// What `write` produces, as a new vector.
pub(crate) fn emit_vec(write: impl Fn(&mut SliceWriter<'_>)) -> Vec<u8> {
    let mut v = vec![0; measured(&write)];
    let n = emit_into(&mut v, &write).unwrap_or(0);
    v.truncate(n);
    v
}

impl SliceWriter<'_> {
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        if let Some(out) = self.out.as_deref_mut()
            && let Some(dst) = out.get_mut(self.pos..self.pos + bytes.len())
        {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}

impl<'a> Response<'a> {
    /// A response with only `CSeq` and no body.
    pub fn new(status: u16, cseq: Option<u32>) -> Self {
        Self {
            status,
            cseq,
            headers: &[],
            body: &[],
        }
    }

    fn write(&self, w: &mut SliceWriter<'_>) {
        use fmt::Write;
        // Writing into a SliceWriter cannot fail.
        let _ = write!(
            w,
            "{PROTOCOL} {} {}\r\nCSeq: {}\r\n",
            self.status,
            reason_phrase(self.status),
            self.cseq.unwrap_or(0)
        );
        for h in self.headers {
            let _ = write!(w, "{}: {}\r\n", h.name, h.value);
        }
        w.put(b"\r\n");
        w.put(self.body);
    }

    /// Bytes [`Response::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        measured(|w| self.write(w))
    }

    /// Writes the response into the start of `out`; returns the bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        emit_into(out, |w| self.write(w))
    }

    /// The response as a new vector (convenience for the control plane, not a hot path).
    pub fn to_vec(&self) -> Vec<u8> {
        emit_vec(|w| self.write(w))
    }
}

/// A response read back by a client: everything up to the connection's close.
#[derive(Debug, Clone, Copy)]
pub struct ParsedResponse<'a> {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: &'a str,
    headers: Headers<'a>,
    /// Body: every byte after the blank line.
    pub body: &'a [u8],
}

impl<'a> ParsedResponse<'a> {
    /// Parses a complete response (all bytes until the host closed the connection), with
    /// the client's rules: exact `RTSP/1.0` token, at least one header line.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        let Some((line, mut lines, head_total)) = split_head(buf)? else {
            return Err(ParseError::StatusLine);
        };
        let mut parts = line.splitn(3, ' ');
        let (Some(version), Some(code), reason) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ParseError::StatusLine);
        };
        if version != PROTOCOL {
            return Err(ParseError::Version);
        }
        let status: u16 = code.parse().map_err(|_| ParseError::StatusLine)?;
        let headers = Headers::parse(&mut lines)?;
        if headers.len == 0 {
            return Err(ParseError::HeaderLine);
        }
        Ok(Self {
            status,
            reason: reason.unwrap_or(""),
            headers,
            body: &buf[head_total..],
        })
    }

    /// The first header with this exact (case-sensitive, as the client matches) name.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .as_slice()
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIBE: &[u8] = b"DESCRIBE rtsp://192.168.1.20:48010 RTSP/1.0\r\nCSeq: 2\r\nX-GS-ClientVersion: 14\r\nHost: 192.168.1.20\r\nAccept: application/sdp\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n";

    #[test]
    fn parses_describe_and_is_incremental() {
        for cut in 0..DESCRIBE.len() {
            assert!(
                parse_request(&DESCRIBE[..cut]).unwrap().is_none(),
                "cut {cut}"
            );
        }
        let (req, used) = parse_request(DESCRIBE).unwrap().unwrap();
        assert_eq!(used, DESCRIBE.len());
        assert_eq!(req.method, Method::Describe);
        assert_eq!(req.target, "rtsp://192.168.1.20:48010");
        assert_eq!(req.cseq(), Some(2));
        assert_eq!(req.header("host"), Some("192.168.1.20"));
        assert_eq!(
            req.header("If-Modified-Since"),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(req.headers().len(), 5);
        assert!(req.body.is_empty());
    }

    #[test]
    fn announce_body_by_content_length_any_case() {
        let body = b"v=0\r\na=x-nv-video[0].maxFPS:60 \r\n";
        let mut msg = format!(
            "ANNOUNCE streamid=control/13/0 RTSP/1.0\r\nCSeq: 6\r\nContent-type: application/sdp\r\nContent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        assert!(parse_request(&msg[..msg.len() - 1]).unwrap().is_none());
        msg.extend_from_slice(b"trailing");
        let (req, used) = parse_request(&msg).unwrap().unwrap();
        assert_eq!(req.method, Method::Announce);
        assert_eq!(req.body, body);
        assert_eq!(used, msg.len() - b"trailing".len());
    }

    #[test]
    fn bare_newlines_and_loose_spacing() {
        let msg = b"PLAY / RTSP/1.0\nCSeq:7\nSession:   DEADBEEFCAFE  \n\n";
        let (req, _) = parse_request(msg).unwrap().unwrap();
        assert_eq!(req.method, Method::Play);
        assert_eq!(req.cseq(), Some(7));
        assert_eq!(req.header("SESSION"), Some("DEADBEEFCAFE"));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n").unwrap_err(),
            ParseError::Version
        );
        assert_eq!(
            parse_request(b"OPTIONS\r\n\r\n").unwrap_err(),
            ParseError::RequestLine
        );
        assert_eq!(
            parse_request(b"OPTIONS * RTSP/1.0\r\nbad line\r\n\r\n").unwrap_err(),
            ParseError::HeaderLine
        );
        assert_eq!(
            parse_request(b"OPTIONS * RTSP/1.0\r\nContent-length: -1\r\n\r\n").unwrap_err(),
            ParseError::ContentLength
        );
        assert_eq!(
            parse_request(b"OPTIONS * RTSP/1.0\r\nContent-length: 999999999\r\n\r\n").unwrap_err(),
            ParseError::BodyTooLarge
        );
        assert_eq!(
            parse_request(b"\xff\xfe x RTSP/1.0\r\n\r\n").unwrap_err(),
            ParseError::NotUtf8
        );
        let big = vec![b'a'; MAX_HEAD_LEN + 1];
        assert_eq!(parse_request(&big).unwrap_err(), ParseError::HeadTooLarge);
        let mut many = b"OPTIONS * RTSP/1.0\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_request(&many).unwrap_err(),
            ParseError::TooManyHeaders
        );
    }

    #[test]
    fn other_methods_are_kept() {
        let (req, _) = parse_request(b"TEARDOWN / RTSP/1.0\r\nCSeq: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(req.method, Method::Other("TEARDOWN"));
        assert_eq!(req.method.to_string(), "TEARDOWN");
    }

    #[test]
    fn response_shape_matches_client_parser() {
        let headers = [
            Header {
                name: "Session",
                value: "DEADBEEFCAFE;timeout = 90",
            },
            Header {
                name: "Transport",
                value: "server_port=48000",
            },
            Header {
                name: "X-SS-Ping-Payload",
                value: "5A1F0C9E33B27D40",
            },
        ];
        let resp = Response {
            status: 200,
            cseq: Some(3),
            headers: &headers,
            body: b"",
        };
        let bytes = resp.to_vec();
        assert_eq!(
            bytes,
            b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: DEADBEEFCAFE;timeout = 90\r\nTransport: server_port=48000\r\nX-SS-Ping-Payload: 5A1F0C9E33B27D40\r\n\r\n"
        );
        let mut small = [0u8; 10];
        assert_eq!(resp.emit(&mut small).unwrap_err().need, bytes.len());
        let parsed = ParsedResponse::parse(&bytes).unwrap();
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.reason, "OK");
        assert_eq!(parsed.header("CSeq"), Some("3"));
        assert_eq!(parsed.header("Session"), Some("DEADBEEFCAFE;timeout = 90"));
        assert_eq!(parsed.header("session"), None);
    }

    #[test]
    fn response_with_body_and_error_status() {
        let resp = Response {
            status: 404,
            cseq: None,
            headers: &[],
            body: b"a=x\n",
        };
        let bytes = resp.to_vec();
        assert_eq!(bytes, b"RTSP/1.0 404 NOT FOUND\r\nCSeq: 0\r\n\r\na=x\n");
        let parsed = ParsedResponse::parse(&bytes).unwrap();
        assert_eq!(parsed.status, 404);
        assert_eq!(parsed.body, b"a=x\n");
        assert!(ParsedResponse::parse(b"RTSP/1.0 200 OK\r\n\r\n").is_err());
    }
}
