//! The RTSP server (gamestream-protocol.md §4) on TCP `B + 21`.
//!
//! One request per TCP connection: read it (plaintext, or one `rtspenc` frame when the
//! launch session asked for encrypted RTSP), answer, close. Connections are accepted only
//! while a launch session is pending and younger than the launch timeout. After PLAY, the
//! finished handshake goes to the streaming side as [`HostEvent::StreamStart`].

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;

use punktfunk_core::gamestream::rtsp::{
    self, Direction, Header, Method, ParseError, Request, Response, RtspCipher, SetupStream,
    StreamConfig, VideoCodec, enc,
};

use super::host::{SCM_AV1_ANY, SCM_HEVC, Shared, lock};
use super::session::{HostEvent, LaunchSession, StreamStart};

/// Sunshine's fixed session token (the client echoes the part before `;`).
pub const SESSION_HEADER: &str = "DEADBEEFCAFE;timeout = 90";
/// Largest request read (plaintext or sealed).
const MAX_REQUEST: usize = rtsp::message::MAX_HEAD_LEN + rtsp::message::MAX_BODY_LEN;

/// Why a connection was dropped without a reply.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("peer closed before a complete request")]
    Eof,
    #[error("malformed request: {0}")]
    Parse(#[from] ParseError),
    #[error("rtspenc: {0}")]
    Enc(#[from] enc::EncError),
    #[error("request too large")]
    TooLarge,
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), ConnError> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk)?;
    if n == 0 {
        return Err(ConnError::Eof);
    }
    buf.extend_from_slice(&chunk[..n]);
    if buf.len() > MAX_REQUEST + enc::HEADER_LEN {
        return Err(ConnError::TooLarge);
    }
    Ok(())
}

/// Reads the bytes of one plaintext request.
fn read_plain(stream: &mut TcpStream) -> Result<Vec<u8>, ConnError> {
    let mut buf = Vec::new();
    loop {
        if let Some((_, used)) = rtsp::parse_request(&buf)? {
            buf.truncate(used);
            return Ok(buf);
        }
        read_more(stream, &mut buf)?;
    }
}

/// Reads and opens one `rtspenc` frame.
fn read_sealed(stream: &mut TcpStream, cipher: &RtspCipher) -> Result<Vec<u8>, ConnError> {
    let mut buf = Vec::new();
    let len = loop {
        if let Some(len) = enc::frame_len(&buf)? {
            break len;
        }
        read_more(stream, &mut buf)?;
    };
    while buf.len() < len {
        read_more(stream, &mut buf)?;
    }
    buf.truncate(len);
    let (_, plain) = cipher.open_to_vec(&buf, Direction::ClientToHost)?;
    Ok(plain)
}

pub(crate) fn serve(shared: &Arc<Shared>, mut stream: TcpStream) {
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    // Accept only while a launch session is pending (§4.1).
    let (encrypted, cipher) = {
        let mut launch = lock(&shared.launch);
        let expired = launch
            .as_ref()
            .is_some_and(|s| s.created.elapsed() > shared.config.launch_timeout);
        if expired {
            tracing::info!("launch session expired before the RTSP handshake finished");
            *launch = None;
        }
        let Some(session) = launch.as_ref() else {
            tracing::info!(%peer, "RTSP connection without a pending launch session: closed");
            return;
        };
        let enc = session.params.rtsp_encrypted();
        (enc, enc.then(|| RtspCipher::new(&session.params.rikey)))
    };
    let request_bytes = match &cipher {
        Some(c) => read_sealed(&mut stream, c),
        None => read_plain(&mut stream),
    };
    let request_bytes = match request_bytes {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(%peer, encrypted, "RTSP request refused: {e}");
            return;
        }
    };
    let request = match rtsp::parse_request(&request_bytes) {
        Ok(Some((r, _))) => r,
        Ok(None) => {
            tracing::warn!(%peer, "RTSP request incomplete inside its frame");
            return;
        }
        Err(e) => {
            tracing::warn!(%peer, "RTSP request refused: {e}");
            return;
        }
    };
    tracing::debug!(%peer, method = %request.method, target = request.target, "RTSP request");
    let mut launch = lock(&shared.launch);
    let Some(session) = launch.as_mut() else {
        return;
    };
    let reply = respond(shared, session, &request, peer);
    let bytes = match &cipher {
        Some(c) => {
            session.rtsp_seq = session.rtsp_seq.wrapping_add(1);
            c.seal_to_vec(session.rtsp_seq, Direction::HostToClient, &reply)
        }
        None => reply,
    };
    drop(launch);
    if let Err(e) = stream.write_all(&bytes).and_then(|_| stream.flush()) {
        tracing::debug!(%peer, "RTSP write: {e}");
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Answers one request; updates the launch session.
fn respond(
    shared: &Shared,
    session: &mut LaunchSession,
    req: &Request<'_>,
    peer: SocketAddr,
) -> Vec<u8> {
    let cseq = req.cseq();
    let simple = |status| Response::new(status, cseq).to_vec();
    match req.method {
        Method::Options => simple(200),
        Method::Describe => {
            let body = shared.config.describe.to_vec();
            Response {
                status: 200,
                cseq,
                headers: &[],
                body: &body,
            }
            .to_vec()
        }
        Method::Setup => {
            let Some(stream) = SetupStream::from_target(req.target) else {
                tracing::warn!(%peer, target = req.target, "SETUP of an unknown stream");
                return simple(404);
            };
            let ports = shared.ports;
            let (i, port) = match stream {
                SetupStream::Audio => (0, ports.audio),
                SetupStream::Video => (1, ports.video),
                SetupStream::Control => (2, ports.control),
            };
            session.setup[i] = true;
            let transport = format!("server_port={port}");
            let connect = session.connect_data.to_string();
            let mut headers = vec![
                Header {
                    name: "Session",
                    value: SESSION_HEADER,
                },
                Header {
                    name: "Transport",
                    value: &transport,
                },
            ];
            match stream {
                SetupStream::Control => headers.push(Header {
                    name: "X-SS-Connect-Data",
                    value: &connect,
                }),
                _ => headers.push(Header {
                    name: "X-SS-Ping-Payload",
                    value: &session.ping_payload,
                }),
            }
            Response {
                status: 200,
                cseq,
                headers: &headers,
                body: &[],
            }
            .to_vec()
        }
        Method::Announce => {
            let config = match StreamConfig::parse(req.body) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(%peer, "ANNOUNCE refused: {e}");
                    return simple(400);
                }
            };
            let scm = shared.config.codec_mode_support;
            let codec_ok = match config.codec {
                VideoCodec::H264 => true,
                VideoCodec::Hevc => scm & SCM_HEVC != 0,
                VideoCodec::Av1 => scm & SCM_AV1_ANY != 0,
            };
            if !codec_ok {
                tracing::warn!(%peer, codec = ?config.codec, "ANNOUNCE asks for a disabled codec");
                return simple(400);
            }
            if shared.config.require_encryption
                && !(config.video_encrypted() && config.audio_encrypted())
            {
                tracing::warn!(%peer, "ANNOUNCE without video and audio encryption refused (encryption mandatory)");
                return simple(403);
            }
            session.high_quality_audio = req.header("Host").is_some_and(|h| !h.contains("0.0.0.0"));
            tracing::info!(
                %peer,
                width = config.width,
                height = config.height,
                fps = config.fps,
                codec = ?config.codec,
                packet_size = config.packet_size,
                "stream announced"
            );
            session.config = Some(config);
            simple(200)
        }
        Method::Play => {
            let Some(config) = session.config else {
                tracing::warn!(%peer, "PLAY before ANNOUNCE");
                return simple(400);
            };
            shared.emit(HostEvent::StreamStart(Box::new(StreamStart {
                session: session.clone(),
                config,
                client_ip: session.client_ip,
                rtsp_peer: peer,
                ports: shared.ports,
            })));
            simple(200)
        }
        Method::Other(m) => {
            tracing::warn!(%peer, method = m, "unknown RTSP method");
            simple(404)
        }
    }
}
