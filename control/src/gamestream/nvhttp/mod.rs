//! The nvhttp API (gamestream-protocol.md §2) on the HTTP and HTTPS ports.
//!
//! Every understood request is answered HTTP 200 with the result in the `status_code`
//! attribute of `<root>`; only unknown paths get HTTP 404 (with `<root status_code="404"/>`).
//! On HTTPS, a client whose certificate is not paired gets status 401 for every path.

pub mod http;
pub mod query;
pub mod tls;
pub mod xml;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use rand::RngCore;

use self::http::{HttpError, HttpRequest};
use self::query::{LaunchParams, Query};
use self::xml::Xml;
use super::hex;
use super::host::{Shared, lock};
use super::pairing::{ClientCert, PairingError, PairingSession};
use super::session::{HostEvent, LaunchSession, SessionEnd};
use super::store::PairedClient;

/// `appversion` reported to clients: Sunshine's (modern protocol + Sunshine extensions).
pub const APP_VERSION: &str = "7.1.431.-1";
/// `GfeVersion` reported to clients (kept old on purpose, §2.3).
pub const GFE_VERSION: &str = "3.23.0.74";
/// `MaxLumaPixelsHEVC` when HEVC is offered.
pub const MAX_LUMA_PIXELS_HEVC: u64 = 1_869_449_984;
/// Box art served by `/appasset`: a 1x1 transparent PNG.
pub const DEFAULT_BOX_ART: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0xf8, 0x5f,
    0x0f, 0x00, 0x02, 0x87, 0x01, 0x80, 0xeb, 0x47, 0xba, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// One reply: HTTP status, content type, body.
#[derive(Debug)]
pub(crate) struct Reply {
    http_status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn xml(x: Xml) -> Self {
        Self {
            http_status: 200,
            content_type: "application/xml",
            body: x.finish().into_bytes(),
        }
    }

    fn not_found() -> Self {
        Self {
            http_status: 404,
            content_type: "application/xml",
            body: Xml::root(404).empty().finish().into_bytes(),
        }
    }
}

/// Who is asking: transport facts of the connection.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    https: bool,
    local_ip: IpAddr,
    peer_ip: IpAddr,
    /// The client certificate presented on HTTPS, if any.
    cert: Option<ClientCert>,
}

pub(crate) fn serve_http(shared: &Arc<Shared>, stream: TcpStream) {
    let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) else {
        return;
    };
    let caller = Caller {
        https: false,
        local_ip: local.ip(),
        peer_ip: peer.ip(),
        cert: None,
    };
    let mut stream = stream;
    serve(shared, &mut stream, &caller);
}

pub(crate) fn serve_https(shared: &Arc<Shared>, stream: TcpStream) {
    let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) else {
        return;
    };
    let conn = match rustls::ServerConnection::new(shared.tls.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%peer, "TLS setup: {e}");
            return;
        }
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    // Complete the handshake before reading the request, to learn the client certificate.
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            tracing::warn!(%peer, "TLS handshake failed: {e}");
            return;
        }
    }
    let cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|der| ClientCert::from_der(der).ok());
    let caller = Caller {
        https: true,
        local_ip: local.ip(),
        peer_ip: peer.ip(),
        cert,
    };
    serve(shared, &mut tls, &caller);
    // End the TLS session cleanly so clients reading to EOF see close_notify.
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
}

fn serve(shared: &Arc<Shared>, stream: &mut (impl Read + Write), caller: &Caller) {
    let mut buf = Vec::new();
    loop {
        let req = match http::read_request(stream, &mut buf) {
            Ok(r) => r,
            Err(HttpError::Closed) => return,
            Err(HttpError::Io(e)) => {
                tracing::debug!(peer = %caller.peer_ip, "nvhttp read: {e}");
                return;
            }
            Err(e @ (HttpError::Malformed(_) | HttpError::TooLarge)) => {
                tracing::warn!(peer = %caller.peer_ip, https = caller.https, "refused request: {e}");
                let body = Xml::root_msg(400, "Bad request").finish();
                let _ =
                    http::write_response(stream, 400, "application/xml", body.as_bytes(), false);
                return;
            }
        };
        tracing::debug!(peer = %caller.peer_ip, https = caller.https, path = %req.path, "nvhttp request");
        let reply = handle(shared, &req, caller);
        let keep = req.keep_alive && !shared.stop.load(std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = http::write_response(
            stream,
            reply.http_status,
            reply.content_type,
            &reply.body,
            keep,
        ) {
            tracing::debug!(peer = %caller.peer_ip, "nvhttp write: {e}");
            return;
        }
        if !keep {
            return;
        }
    }
}

/// Dispatches one request.
pub(crate) fn handle(shared: &Arc<Shared>, req: &HttpRequest, caller: &Caller) -> Reply {
    const KNOWN: &[&str] = &[
        "/serverinfo",
        "/pair",
        "/unpair",
        "/applist",
        "/appasset",
        "/launch",
        "/resume",
        "/cancel",
    ];
    // On HTTPS an unpaired certificate gets 401 for every path, known or not (§2.2).
    if caller.https {
        let paired = caller
            .cert
            .as_ref()
            .is_some_and(|c| shared.is_paired(&c.fingerprint()));
        if !paired {
            tracing::info!(peer = %caller.peer_ip, path = %req.path, "unpaired client certificate refused");
            return Reply::xml(
                Xml::root(401)
                    .with_attr("query", &req.path)
                    .with_attr(
                        "status_message",
                        "The client is not authorized. Certificate verification failed.",
                    )
                    .empty(),
            );
        }
    }
    if !KNOWN.contains(&req.path.as_str()) {
        return Reply::not_found();
    }
    let q = match Query::parse(&req.query) {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(peer = %caller.peer_ip, path = %req.path, "bad query: {e}");
            return Reply::xml(Xml::root_msg(400, &e.to_string()));
        }
    };
    match (req.path.as_str(), caller.https) {
        ("/serverinfo", _) => serverinfo(shared, caller),
        ("/pair", _) => pair(shared, &q, caller),
        ("/unpair", _) => unpair(shared, &q),
        (_, false) => Reply::not_found(),
        ("/applist", true) => applist(shared),
        ("/appasset", true) => Reply {
            http_status: 200,
            content_type: "image/png",
            body: DEFAULT_BOX_ART.to_vec(),
        },
        ("/launch", true) => launch(shared, &q, caller, true),
        ("/resume", true) => launch(shared, &q, caller, false),
        ("/cancel", true) => {
            shared.end_sessions();
            shared.emit(HostEvent::SessionEnded(SessionEnd::Cancelled));
            Reply::xml(Xml::root(200).el("cancel", "1"))
        }
        _ => Reply::not_found(),
    }
}

fn serverinfo(shared: &Shared, caller: &Caller) -> Reply {
    let c = &shared.config;
    let current = shared.apps.current();
    let local_ip = match caller.local_ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::LOCALHOST),
    };
    let hevc = c.codec_mode_support & super::host::SCM_HEVC != 0;
    let x = Xml::root(200)
        .el("hostname", &c.hostname)
        .el("appversion", APP_VERSION)
        .el("GfeVersion", GFE_VERSION)
        .el("uniqueid", &shared.unique_id)
        .el("HttpsPort", &shared.ports.https.to_string())
        .el("ExternalPort", &shared.ports.http.to_string())
        .el("MaxLumaPixelsHEVC", if hevc { "1869449984" } else { "0" })
        .el("mac", "00:00:00:00:00:00")
        .el("LocalIP", &local_ip.to_string())
        .el("ServerCodecModeSupport", &c.codec_mode_support.to_string())
        .el("PairStatus", if caller.https { "1" } else { "0" })
        .el("currentgame", &current.to_string())
        .el(
            "state",
            if current != 0 {
                "SUNSHINE_SERVER_BUSY"
            } else {
                "SUNSHINE_SERVER_FREE"
            },
        );
    Reply::xml(x)
}

fn applist(shared: &Shared) -> Reply {
    let mut x = Xml::root(200);
    for app in &shared.config.apps {
        x = x
            .open("App")
            .el("IsHdrSupported", if app.hdr { "1" } else { "0" })
            .el("AppTitle", &app.title)
            .el("ID", &app.id.to_string())
            .close("App");
    }
    Reply::xml(x)
}

fn unpair(shared: &Shared, q: &Query<'_>) -> Reply {
    if let Some(uid) = q.get("uniqueid") {
        let mut t = lock(&shared.pairing);
        t.sessions.remove(uid);
        if t.awaiting.as_deref() == Some(uid) {
            t.awaiting = None;
        }
        shared.pin_cv.notify_all();
    }
    Reply::xml(Xml::root(200))
}

fn paired_reply(status: u16, paired: bool, message: Option<&str>) -> Xml {
    let x = match message {
        Some(m) => Xml::root_msg(status, m),
        None => Xml::root(status),
    };
    x.el("paired", if paired { "1" } else { "0" })
}

fn pair(shared: &Shared, q: &Query<'_>, caller: &Caller) -> Reply {
    let Some(uid) = q.get("uniqueid").map(str::to_owned) else {
        return Reply::xml(Xml::root_msg(400, "Missing uniqueid parameter"));
    };
    if q.get("phrase") == Some("getservercert") {
        return pair_phase1(shared, q, &uid);
    }
    if q.get("phrase") == Some("pairchallenge") {
        // Phase 5: reaching here over HTTPS means the certificate is paired.
        return Reply::xml(if caller.https {
            paired_reply(200, true, None)
        } else {
            paired_reply(400, false, Some("pairchallenge must use HTTPS"))
        });
    }
    type Step = fn(
        &Shared,
        &mut PairingSession,
        &str,
    ) -> Result<Option<(&'static str, Vec<u8>)>, PairingError>;
    let (value, step): (&str, Step) = if let Some(v) = q.get("clientchallenge") {
        (v, |s, p, v| {
            p.client_challenge(&s.identity, v, &mut rand::rng())
                .map(|r| Some(("challengeresponse", r)))
        })
    } else if let Some(v) = q.get("serverchallengeresp") {
        (v, |s, p, v| {
            p.server_challenge_resp(&s.identity, v)
                .map(|r| Some(("pairingsecret", r)))
        })
    } else if let Some(v) = q.get("clientpairingsecret") {
        (v, |_, p, v| p.client_pairing_secret(v).map(|_| None))
    } else {
        return Reply::xml(Xml::root_msg(404, "Invalid pairing request"));
    };
    let mut t = lock(&shared.pairing);
    let Some(session) = t.sessions.get_mut(&uid) else {
        return Reply::xml(Xml::root_msg(400, "Invalid uniqueid"));
    };
    match step(shared, session, value) {
        Ok(Some((name, bytes))) => {
            Reply::xml(paired_reply(200, true, None).el(name, &hex::encode_upper(&bytes)))
        }
        Ok(None) => {
            // Phase 4 succeeded: store the certificate.
            let Some(session) = t.sessions.remove(&uid) else {
                return Reply::xml(paired_reply(200, false, None));
            };
            let name = t.names.remove(&uid).unwrap_or_else(|| uid.clone());
            drop(t);
            let cert = session.client_cert().clone();
            let mut paired = lock(&shared.paired);
            paired.retain(|c| c.cert.fingerprint() != cert.fingerprint());
            paired.push(PairedClient {
                name: name.clone(),
                cert,
            });
            if let Err(e) = shared.store.save_paired_clients(&paired) {
                tracing::error!("saving paired clients: {e}");
                paired.pop();
                return Reply::xml(paired_reply(
                    500,
                    false,
                    Some("could not store the pairing"),
                ));
            }
            tracing::info!(client = %name, "client paired");
            Reply::xml(paired_reply(200, true, None))
        }
        Err(e) => {
            t.sessions.remove(&uid);
            t.names.remove(&uid);
            tracing::warn!(uniqueid = %uid, "pairing failed: {e}");
            let status = if e == PairingError::Mismatch {
                200
            } else {
                400
            };
            Reply::xml(paired_reply(
                status,
                false,
                (status != 200).then(|| e.to_string()).as_deref(),
            ))
        }
    }
}

fn pair_phase1(shared: &Shared, q: &Query<'_>, uid: &str) -> Reply {
    let (Some(salt), Some(cert)) = (q.get("salt"), q.get("clientcert")) else {
        return Reply::xml(paired_reply(400, false, Some("Missing salt or clientcert")));
    };
    let session = match PairingSession::begin(salt, cert) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(uniqueid = %uid, "pairing phase 1 refused: {e}");
            return Reply::xml(paired_reply(400, false, Some(&e.to_string())));
        }
    };
    let mut t = lock(&shared.pairing);
    if t.awaiting.as_deref().is_some_and(|a| a != uid) {
        // Another client waits for its PIN: the client reads an empty plaincert as busy.
        return Reply::xml(paired_reply(200, false, None).el("plaincert", ""));
    }
    t.sessions.insert(uid.to_owned(), session);
    t.awaiting = Some(uid.to_owned());
    tracing::info!(uniqueid = %uid, "pairing requested: waiting for the PIN");
    let deadline = Instant::now() + shared.config.pin_timeout;
    loop {
        let stop = shared.stop.load(std::sync::atomic::Ordering::SeqCst);
        let pin_in = t.sessions.get(uid).map(PairingSession::pin_entered);
        match pin_in {
            Some(true) => {
                return Reply::xml(paired_reply(200, true, None).el(
                    "plaincert",
                    &hex::encode_upper(shared.identity.cert_pem().as_bytes()),
                ));
            }
            None => return Reply::xml(paired_reply(200, false, None)), // unpaired / replaced
            Some(false) => {}
        }
        let now = Instant::now();
        if stop || now >= deadline {
            t.sessions.remove(uid);
            if t.awaiting.as_deref() == Some(uid) {
                t.awaiting = None;
            }
            tracing::info!(uniqueid = %uid, "no PIN entered in time");
            return Reply::xml(paired_reply(200, false, None));
        }
        t = shared
            .pin_cv
            .wait_timeout(t, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

fn launch(shared: &Arc<Shared>, q: &Query<'_>, caller: &Caller, is_launch: bool) -> Reply {
    let fail_tag = if is_launch { "gamesession" } else { "resume" };
    let params = match LaunchParams::parse(q, is_launch) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(peer = %caller.peer_ip, "launch refused: {e}");
            return Reply::xml(Xml::root_msg(400, &e.to_string()).el("resume", "0"));
        }
    };
    if shared.config.require_encryption && !params.rtsp_encrypted() {
        tracing::warn!(peer = %caller.peer_ip, "launch without encrypted RTSP refused (encryption mandatory)");
        return Reply::xml(
            Xml::root_msg(
                403,
                "Encryption is mandatory for this host but unsupported by the client",
            )
            .el(fail_tag, "0"),
        );
    }
    let running = shared.apps.current();
    let appid = if is_launch {
        if running != 0 {
            return Reply::xml(
                Xml::root_msg(400, "An app is already running on this host").el(fail_tag, "0"),
            );
        }
        let Some(app) = shared.config.apps.iter().find(|a| a.id == params.appid) else {
            return Reply::xml(
                Xml::root_msg(404, "Cannot find requested application").el(fail_tag, "0"),
            );
        };
        let weak = Arc::downgrade(shared);
        let on_exit = move |id| {
            tracing::info!(app = id, "app exited: session ends");
            if let Some(s) = weak.upgrade() {
                lock(&s.launch).take();
                s.emit(HostEvent::SessionEnded(SessionEnd::AppExited));
            }
        };
        if let Err(e) = shared.apps.launch(app, on_exit) {
            tracing::warn!("launch failed: {e}");
            return Reply::xml(Xml::root_msg(500, &e.to_string()).el(fail_tag, "0"));
        }
        params.appid
    } else {
        if running == 0 {
            return Reply::xml(Xml::root_msg(503, "No running app to resume").el("resume", "0"));
        }
        running
    };
    let mut rng = rand::rng();
    let mut ping = [0u8; 8];
    rng.fill_bytes(&mut ping);
    let session = LaunchSession {
        appid,
        client_fingerprint: caller
            .cert
            .as_ref()
            .map(ClientCert::fingerprint)
            .unwrap_or_default(),
        client_ip: caller.peer_ip,
        ping_payload: hex::encode_upper(&ping),
        connect_data: rng.next_u32(),
        created: Instant::now(),
        rtsp_seq: 0,
        setup: [false; 3],
        config: None,
        high_quality_audio: false,
        params,
    };
    let scheme = if session.params.rtsp_encrypted() {
        "rtspenc"
    } else {
        "rtsp"
    };
    let host = match caller.local_ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
        IpAddr::V4(v4) => v4.to_string(),
    };
    let url = format!("{scheme}://{host}:{}", shared.ports.rtsp);
    tracing::info!(app = appid, %url, "launch session armed");
    *lock(&shared.launch) = Some(session);
    Reply::xml(
        Xml::root(200)
            .el("sessionUrl0", &url)
            .el(if is_launch { "gamesession" } else { "resume" }, "1"),
    )
}
