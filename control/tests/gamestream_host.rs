//! The GameStream host against an in-repo client over real loopback sockets: PIN pairing
//! over HTTP + HTTPS with real certificates, serverinfo, applist, appasset, launch, RTSP
//! (plain and rtspenc), resume, cancel, persistence, and refusal of bad input.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use punktfunk_control::gamestream::{AppConfig, HostEvent, SessionEnd};
use punktfunk_core::gamestream::rtsp::VideoCodec;

const DESKTOP: u32 = 881_448_767;

fn expect_stream(
    host: &punktfunk_control::gamestream::GameStreamHost,
) -> Box<punktfunk_control::gamestream::StreamStart> {
    loop {
        match host.next_event(Duration::from_secs(10)) {
            Some(HostEvent::StreamStart(s)) => return s,
            Some(other) => eprintln!("skipping event {other:?}"),
            None => panic!("no StreamStart after PLAY"),
        }
    }
}

/// Runs the RTSP handshake of §4.2; returns the SETUP replies' ping payload and connect data.
fn rtsp_handshake(
    rtsp: &mut RtspClient,
    host: &punktfunk_control::gamestream::GameStreamHost,
) -> (String, String) {
    let url = format!("rtsp://{}", rtsp.addr);
    let p = host.ports();
    let r = rtsp.request("OPTIONS", &url, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("CSeq"), Some("1"));
    let r = rtsp.request(
        "DESCRIBE",
        &url,
        &[
            ("Accept", "application/sdp"),
            ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("a=x-ss-general.encryptionSupported:5"),
        "{}",
        r.body
    );
    assert!(r.body.contains("a=fmtp:97 surround-params=21101"));
    assert!(
        !r.body.contains("AV1/90000"),
        "AV1 not offered by an H.264-only host"
    );
    let transport = ("Transport", "unicast;X-GS-ClientPort=50000-50001");
    let r = rtsp.request("SETUP", "streamid=audio/0/0", &[transport], b"");
    assert_eq!(r.status, 200);
    let session = r
        .header("Session")
        .expect("Session in the audio SETUP reply")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        r.header("Transport"),
        Some(format!("server_port={}", p.audio).as_str())
    );
    let ping = r.header("X-SS-Ping-Payload").unwrap().to_owned();
    assert_eq!(ping.len(), 16);
    let r = rtsp.request(
        "SETUP",
        "streamid=video/0/0",
        &[("Session", &session), transport],
        b"",
    );
    assert_eq!(
        r.header("Transport"),
        Some(format!("server_port={}", p.video).as_str())
    );
    assert_eq!(r.header("X-SS-Ping-Payload"), Some(ping.as_str()));
    let r = rtsp.request(
        "SETUP",
        "streamid=control/13/0",
        &[("Session", &session), transport],
        b"",
    );
    assert_eq!(
        r.header("Transport"),
        Some(format!("server_port={}", p.control).as_str())
    );
    let connect = r.header("X-SS-Connect-Data").unwrap().to_owned();
    connect
        .parse::<u32>()
        .expect("connect data is a decimal u32");
    let r = rtsp.request("SETUP", "streamid=mic/0/0", &[("Session", &session)], b"");
    assert_eq!(r.status, 404);
    let r = rtsp.request("PLAY", "/", &[("Session", &session)], b"");
    assert_eq!(r.status, 400, "PLAY before ANNOUNCE is refused");
    let r = rtsp.request(
        "ANNOUNCE",
        "streamid=control/13/0",
        &[("Session", &session), ("Content-type", "application/sdp")],
        &announce_body(),
    );
    assert_eq!(r.status, 200);
    let r = rtsp.request("PLAY", "/", &[("Session", &session)], b"");
    assert_eq!(r.status, 200);
    (ping, connect)
}

#[test]
fn pair_launch_rtsp_plain_and_encrypted_cancel_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path(), |_| {});
    let p = host.ports();

    // Unpaired: HTTP serverinfo says PairStatus 0.
    let r = http_get(p.http, "/serverinfo?uniqueid=abc&uuid=1");
    assert_eq!((r.status, r.status_code()), (200, Some(200)));
    assert_eq!(r.el("appversion").as_deref(), Some("7.1.431.-1"));
    assert_eq!(r.el("GfeVersion").as_deref(), Some("3.23.0.74"));
    assert_eq!(r.el("PairStatus").as_deref(), Some("0"));
    assert_eq!(r.el("HttpsPort"), Some(p.https.to_string()));
    assert_eq!(r.el("ExternalPort"), Some(p.http.to_string()));
    assert_eq!(r.el("uniqueid").as_deref(), Some(host.unique_id()));
    assert_eq!(r.el("currentgame").as_deref(), Some("0"));
    assert_eq!(r.el("state").as_deref(), Some("SUNSHINE_SERVER_FREE"));
    assert_eq!(r.el("LocalIP").as_deref(), Some("127.0.0.1"));
    assert_eq!(r.el("ServerCodecModeSupport").as_deref(), Some("1"));
    assert!(!r.text().contains("MJOLNIR"));
    assert_eq!(http_get(p.http, "/nope").status, 404);

    // Pair with the right PIN.
    let mut client = Client::new("0123456789ABCDEF");
    // HTTPS before pairing: the client pins the host cert from the running host.
    client.pinned = Some(
        punktfunk_control::gamestream::pairing::ClientCert::from_pem(host.cert_pem().as_bytes())
            .unwrap()
            .der()
            .to_vec(),
    );
    let r = client.https_get(p.https, "/serverinfo?uniqueid=x&uuid=y");
    assert_eq!(
        (r.status, r.status_code()),
        (200, Some(401)),
        "unpaired HTTPS refused: {}",
        r.text()
    );
    assert!(r.text().contains("query=\"/serverinfo\""));
    let r = client.https_get(p.https, "/applist?uniqueid=x&uuid=y");
    assert_eq!(r.status_code(), Some(401));
    let r = client.https_get(p.https, "/no-such-path");
    assert_eq!(
        (r.status, r.status_code()),
        (200, Some(401)),
        "unknown paths too"
    );
    let r = client
        .https_get_with(p.https, "/serverinfo", false)
        .unwrap();
    assert_eq!(
        r.status_code(),
        Some(401),
        "no client certificate at all: 401 too"
    );

    let outcome = client.pair(&host, "4821", "4821", false);
    assert_eq!(
        outcome,
        PairOutcome {
            client_pin_check: true,
            phase4_paired: Some(true),
            phase5_paired: Some(true)
        }
    );
    assert_eq!(host.paired_clients().len(), 1);
    assert_eq!(host.paired_clients()[0].name, "test client");

    // Paired: HTTPS serverinfo, applist, appasset.
    let r = client.https_get(p.https, "/serverinfo?uniqueid=x&uuid=y");
    assert_eq!(r.status_code(), Some(200));
    assert_eq!(r.el("PairStatus").as_deref(), Some("1"));
    let r = client.https_get(p.https, "/applist?uniqueid=x&uuid=y");
    assert_eq!(r.status_code(), Some(200));
    assert_eq!(r.el("AppTitle").as_deref(), Some("Desktop"));
    assert_eq!(r.el("ID"), Some(DESKTOP.to_string()));
    let r = client.https_get(
        p.https,
        &format!("/appasset?uniqueid=x&appid={DESKTOP}&AssetType=2&AssetIdx=0"),
    );
    assert_eq!(r.content_type, "image/png");
    assert!(r.body.starts_with(b"\x89PNG\r\n\x1a\n"));
    let r = client.https_get(p.https, "/no-such-path");
    assert_eq!((r.status, r.status_code()), (404, Some(404)));
    // HTTPS-only endpoints are not served on HTTP.
    assert_eq!(http_get(p.http, "/applist?uniqueid=x").status, 404);

    // Launch with corever=1: encrypted RTSP.
    let rikey: [u8; 16] = rand::random();
    let rikeyid = -1_534_239_870;
    let r = client.https_get(
        p.https,
        &format!(
            "/launch?{}",
            client.launch_query(DESKTOP, &rikey, rikeyid, 1)
        ),
    );
    assert_eq!(r.status_code(), Some(200), "{}", r.text());
    assert_eq!(r.el("gamesession").as_deref(), Some("1"));
    let url = r.el("sessionUrl0").unwrap();
    assert_eq!(url, format!("rtspenc://127.0.0.1:{}", p.rtsp));
    let r = client.https_get(p.https, "/serverinfo?uniqueid=x");
    assert_eq!(r.el("currentgame"), Some(DESKTOP.to_string()));
    assert_eq!(r.el("state").as_deref(), Some("SUNSHINE_SERVER_BUSY"));
    let r = client.https_get(
        p.https,
        &format!(
            "/launch?{}",
            client.launch_query(DESKTOP, &rikey, rikeyid, 1)
        ),
    );
    assert_eq!(r.status_code(), Some(400), "second launch while running");

    let mut rtsp = RtspClient::from_url(&url, &rikey);
    assert!(rtsp.cipher.is_some());
    let (ping, connect) = rtsp_handshake(&mut rtsp, &host);
    let start = expect_stream(&host);
    assert_eq!(start.session.params.rikey, rikey);
    assert_eq!(start.session.params.rikeyid, rikeyid as u32);
    assert_eq!(start.session.ping_payload, ping);
    assert_eq!(start.session.connect_data.to_string(), connect);
    assert_eq!(
        start.session.audio_iv()[..4],
        (rikeyid as u32).to_be_bytes()
    );
    assert_eq!(
        (start.config.width, start.config.height, start.config.fps),
        (1920, 1080, 60)
    );
    assert_eq!(start.config.codec, VideoCodec::H264);
    assert!(start.config.audio_encrypted());
    assert!(
        start.session.high_quality_audio,
        "Host: carried a real address"
    );
    assert_eq!(start.ports, p);

    // A plaintext request on an encrypted session is refused.
    assert!(
        rtsp.exchange(b"OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            .len()
            > 24,
        "still armed"
    );
    let mut plain = RtspClient::from_url(&format!("rtsp://127.0.0.1:{}", p.rtsp), &rikey);
    let raw = plain.exchange(b"OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert!(raw.is_empty(), "no reply to plaintext on rtspenc");

    // Once the control stream is bound, RTSP is closed for this session.
    let taken = host.launch_session_connected().expect("pending session");
    assert_eq!(taken.params.rikey, rikey);
    assert!(
        rtsp.exchange(b"OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            .is_empty()
    );

    // Resume with corever=0: plaintext RTSP, new keys.
    let rikey2: [u8; 16] = rand::random();
    let r = client.https_get(
        p.https,
        &format!("/resume?{}", client.launch_query(DESKTOP, &rikey2, 77, 0)),
    );
    assert_eq!(r.el("resume").as_deref(), Some("1"), "{}", r.text());
    let url = r.el("sessionUrl0").unwrap();
    assert_eq!(url, format!("rtsp://127.0.0.1:{}", p.rtsp));
    let mut rtsp = RtspClient::from_url(&url, &rikey2);
    rtsp.host_header = "0.0.0.0".into();
    rtsp_handshake(&mut rtsp, &host);
    let start = expect_stream(&host);
    assert_eq!(start.session.params.rikey, rikey2);
    assert!(
        !start.session.high_quality_audio,
        "Host: 0.0.0.0 means normal quality"
    );

    // Cancel ends the app.
    let r = client.https_get(p.https, "/cancel?uniqueid=x");
    assert_eq!(r.el("cancel").as_deref(), Some("1"));
    let r = client.https_get(p.https, "/serverinfo?uniqueid=x");
    assert_eq!(r.el("currentgame").as_deref(), Some("0"));
    assert!(matches!(
        host.next_event(Duration::from_secs(5)),
        Some(HostEvent::SessionEnded(SessionEnd::Cancelled))
    ));
    let r = client.https_get(
        p.https,
        &format!("/resume?{}", client.launch_query(DESKTOP, &rikey2, 77, 0)),
    );
    assert_eq!(
        (r.status_code(), r.el("resume").as_deref()),
        (Some(503), Some("0"))
    );
    // RTSP is closed without a pending launch session.
    let raw = rtsp.exchange(b"OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    assert!(raw.is_empty());

    // The pairing survives a restart (same identity, same paired list).
    let pem = host.cert_pem().to_owned();
    host.shutdown();
    let host = start_host(dir.path(), |_| {});
    assert_eq!(host.cert_pem(), pem);
    let r = client.https_get(host.ports().https, "/serverinfo?uniqueid=x");
    assert_eq!(r.el("PairStatus").as_deref(), Some("1"));
    // Network /unpair never removes a stored certificate; the management call does.
    let r = http_get(host.ports().http, "/unpair?uniqueid=0123456789ABCDEF");
    assert_eq!(r.status_code(), Some(200));
    let r = client.https_get(host.ports().https, "/serverinfo");
    assert_eq!(r.el("PairStatus").as_deref(), Some("1"));
    let fp = host.paired_clients()[0].cert.fingerprint();
    assert!(host.unpair_client(&fp).unwrap());
    assert!(!host.unpair_client(&fp).unwrap());
    let r = client.https_get(host.ports().https, "/serverinfo");
    assert_eq!(r.status_code(), Some(401));
    host.shutdown();
    let host = start_host(dir.path(), |_| {});
    assert!(host.paired_clients().is_empty(), "unpairing persisted");
    host.shutdown();
}

#[test]
fn wrong_pin_fails_for_both_client_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path(), |_| {});
    // moonlight-qt: its own check after phase 3 fails; it unpairs and stops.
    let mut qt = Client::new("qt");
    let o = qt.pair(&host, "1111", "2222", false);
    assert_eq!(
        o,
        PairOutcome {
            client_pin_check: false,
            phase4_paired: None,
            phase5_paired: None
        }
    );
    // moonlight-embedded: no client check; the host's phase-4 check answers paired=0.
    let mut embedded = Client::new("embedded");
    let o = embedded.pair(&host, "1111", "2222", true);
    assert_eq!(
        o,
        PairOutcome {
            client_pin_check: false,
            phase4_paired: Some(false),
            phase5_paired: None
        }
    );
    assert!(host.paired_clients().is_empty());
    let r = embedded.https_get(host.ports().https, "/serverinfo?uniqueid=embedded");
    assert_eq!(r.status_code(), Some(401));
    // Out-of-order phases after failure: the session is gone.
    let r = http_get(
        host.ports().http,
        "/pair?uniqueid=embedded&clientchallenge=00112233445566778899aabbccddeeff",
    );
    assert_eq!(r.status_code(), Some(400));
    let r = http_get(host.ports().http, "/pair?clientchallenge=00");
    assert_eq!(r.status_code(), Some(400), "missing uniqueid");
    let r = http_get(
        host.ports().http,
        "/pair?uniqueid=a&phrase=getservercert&salt=00&clientcert=00",
    );
    assert_eq!(
        (r.status_code(), r.el("paired").as_deref()),
        (Some(400), Some("0")),
        "short salt"
    );
    let r = http_get(host.ports().http, "/unpair?uniqueid=embedded");
    assert_eq!(r.status_code(), Some(200));
    // A right PIN still works afterwards.
    let o = embedded.pair(&host, "5555", "5555", true);
    assert_eq!(o.phase5_paired, Some(true));
    host.shutdown();
}

#[test]
fn malformed_bytes_are_refused_and_the_host_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path(), |_| {});
    let p = host.ports();
    let mut client = Client::new("fuzzy");
    assert_eq!(
        client.pair(&host, "1234", "1234", false).phase5_paired,
        Some(true)
    );

    let send_raw = |port: u16, bytes: &[u8]| -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    };
    // HTTP garbage: HTTP 400 and a log line.
    let out = send_raw(p.http, b"\x00\x01\x02garbage\r\n\r\n");
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"),
        "{out:?}"
    );
    let out = send_raw(p.http, &[b'A'; 40_000]);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
    let out = send_raw(p.http, b"GET /serverinfo?x=%zz HTTP/1.1\r\n\r\n");
    assert!(String::from_utf8_lossy(&out).contains("status_code=\"400\""));
    // HTTPS: plaintext HTTP to the TLS port fails the handshake.
    let out = send_raw(p.https, b"GET /serverinfo HTTP/1.1\r\n\r\n");
    assert!(!String::from_utf8_lossy(&out).contains("status_code=\"200\""));
    // RTSP without a pending launch: closed at once.
    assert!(send_raw(p.rtsp, b"OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n").is_empty());

    // Arm a plaintext session and send garbage RTSP.
    let rikey = [3u8; 16];
    let r = client.https_get(
        p.https,
        &format!("/launch?{}", client.launch_query(DESKTOP, &rikey, 1, 0)),
    );
    assert_eq!(r.status_code(), Some(200));
    assert!(send_raw(p.rtsp, b"\xff\xfe\xfd nonsense RTSP/1.0\r\n\r\n").is_empty());
    assert!(send_raw(p.rtsp, b"OPTIONS / HTTP/1.1\r\n\r\n").is_empty());
    assert!(
        send_raw(
            p.rtsp,
            b"ANNOUNCE x RTSP/1.0\r\nContent-length: 99999999\r\n\r\n"
        )
        .is_empty()
    );
    let out = send_raw(
        p.rtsp,
        b"ANNOUNCE x RTSP/1.0\r\nCSeq: 4\r\nContent-length: 5\r\n\r\nhello",
    );
    assert!(String::from_utf8_lossy(&out).starts_with("RTSP/1.0 400 BAD REQUEST\r\nCSeq: 4\r\n"));
    let out = send_raw(p.rtsp, b"TEARDOWN / RTSP/1.0\r\nCSeq: 5\r\n\r\n");
    assert!(String::from_utf8_lossy(&out).starts_with("RTSP/1.0 404"));

    // Encrypted session: a forged frame and a frame with a bad tag are dropped.
    client.https_get(p.https, "/cancel");
    let r = client.https_get(
        p.https,
        &format!("/launch?{}", client.launch_query(DESKTOP, &rikey, 1, 1)),
    );
    let url = r.el("sessionUrl0").unwrap();
    assert!(url.starts_with("rtspenc://"));
    assert!(
        send_raw(
            p.rtsp,
            b"\x80\x00\x00\x10\x00\x00\x00\x01aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb"
        )
        .is_empty()
    );
    let wrong = punktfunk_core::gamestream::rtsp::RtspCipher::new(&[9u8; 16]);
    let frame = wrong.seal_to_vec(
        1,
        punktfunk_core::gamestream::rtsp::Direction::ClientToHost,
        b"OPTIONS / RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    );
    assert!(send_raw(p.rtsp, &frame).is_empty());
    // ...while the real client still completes the handshake.
    let mut rtsp = RtspClient::from_url(&url, &rikey);
    rtsp_handshake(&mut rtsp, &host);
    expect_stream(&host);

    // Logs name each refusal.
    let logs = log_text();
    for needle in [
        "refused request",
        "bad query",
        "TLS handshake failed",
        "RTSP request refused",
        "ANNOUNCE refused",
        "unknown RTSP method",
    ] {
        assert!(logs.contains(needle), "log lacks {needle:?}");
    }
    // The host and the pairing are intact.
    let r = client.https_get(p.https, "/serverinfo?uniqueid=x");
    assert_eq!(r.el("PairStatus").as_deref(), Some("1"));
    assert_eq!(host.paired_clients().len(), 1);
    host.shutdown();
}

#[test]
fn app_process_exit_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = AppConfig {
        id: 42,
        title: "short game".into(),
        command: Some(vec!["/bin/sh".into(), "-c".into(), "sleep 0.3".into()]),
        hdr: false,
    };
    let host = start_host(dir.path(), move |c| {
        c.apps = vec![AppConfig::desktop(), app.clone()]
    });
    let mut client = Client::new("game");
    assert_eq!(
        client.pair(&host, "0000", "0000", false).phase5_paired,
        Some(true)
    );
    let r = client.https_get(host.ports().https, "/applist");
    assert!(
        r.text()
            .contains("<AppTitle>short game</AppTitle><ID>42</ID>"),
        "{}",
        r.text()
    );
    let r = client.https_get(
        host.ports().https,
        &format!("/launch?{}", client.launch_query(42, &[1; 16], 5, 1)),
    );
    assert_eq!(r.el("gamesession").as_deref(), Some("1"));
    assert_eq!(host.current_app(), 42);
    let r = client.https_get(
        host.ports().https,
        &format!("/launch?{}", client.launch_query(7, &[1; 16], 5, 1)),
    );
    assert_eq!(r.status_code(), Some(400));
    assert!(matches!(
        host.next_event(Duration::from_secs(10)),
        Some(HostEvent::SessionEnded(SessionEnd::AppExited))
    ));
    assert_eq!(host.current_app(), 0);
    let r = client.https_get(host.ports().https, "/serverinfo");
    assert_eq!(r.el("state").as_deref(), Some("SUNSHINE_SERVER_FREE"));
    let r = client.https_get(
        host.ports().https,
        &format!("/launch?{}", client.launch_query(999, &[1; 16], 5, 1)),
    );
    assert_eq!(
        (r.status_code(), r.el("gamesession").as_deref()),
        (Some(404), Some("0")),
        "unknown app"
    );
    host.shutdown();
}

#[test]
fn mandatory_encryption_refuses_plaintext_clients() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path(), |c| c.require_encryption = true);
    let p = host.ports();
    let mut client = Client::new("strict");
    assert_eq!(
        client.pair(&host, "2468", "2468", false).phase5_paired,
        Some(true)
    );
    let key = [5u8; 16];
    let r = client.https_get(
        p.https,
        &format!("/launch?{}", client.launch_query(DESKTOP, &key, 9, 0)),
    );
    assert_eq!(
        (r.status_code(), r.el("gamesession").as_deref()),
        (Some(403), Some("0"))
    );
    assert_eq!(host.current_app(), 0);
    let r = client.https_get(
        p.https,
        &format!("/launch?{}", client.launch_query(DESKTOP, &key, 9, 1)),
    );
    let url = r.el("sessionUrl0").unwrap();
    let mut rtsp = RtspClient::from_url(&url, &key);
    let r = rtsp.request("DESCRIBE", "rtsp://x", &[], b"");
    assert!(
        r.body.contains("a=x-ss-general.encryptionRequested:7"),
        "{}",
        r.body
    );
    // C.3's body enables control v2 + audio only (5): refused with 403.
    let r = rtsp.request("ANNOUNCE", "streamid=control/13/0", &[], &announce_body());
    assert_eq!(r.status, 403);
    let body = String::from_utf8(announce_body())
        .unwrap()
        .replace("encryptionEnabled:5", "encryptionEnabled:7");
    let r = rtsp.request("ANNOUNCE", "streamid=control/13/0", &[], body.as_bytes());
    assert_eq!(r.status, 200);
    host.shutdown();
}

/// moonlight-embedded's stack: an OpenSSL-made client certificate (serial 0; X.509 v3 as
/// `req -x509` makes it, and v1 as `x509 -req` makes it) for pairing, then curl (OpenSSL
/// TLS) with that certificate on the HTTPS port. Skips when `openssl` or `curl` is missing.
#[test]
fn openssl_certificates_and_curl_client_interoperate() {
    use std::process::Command;
    let have = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("curl", "--version") || !have("openssl", "version") {
        eprintln!("skipping: openssl or curl not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(&dir.path().join("state"), |_| {});
    let p = host.ports();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let subj = "/CN=NVIDIA GameStream Client";
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-days",
        "3650",
        "-set_serial",
        "0",
        "-subj",
        subj,
        "-keyout",
        "v3.key",
        "-out",
        "v3.pem",
    ]);
    run(&[
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", "v1.key", "-out",
        "v1.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "v1.csr",
        "-signkey",
        "v1.key",
        "-days",
        "3650",
        "-set_serial",
        "0",
        "-sha256",
        "-out",
        "v1.pem",
    ]);
    for (i, name) in ["v3", "v1"].into_iter().enumerate() {
        let cert = dir.path().join(format!("{name}.pem"));
        let key = dir.path().join(format!("{name}.key"));
        let pem = std::fs::read_to_string(&cert).unwrap();
        use rustls::pki_types::pem::PemObject;
        let key_der = rustls::pki_types::PrivatePkcs8KeyDer::from_pem_file(&key)
            .unwrap()
            .secret_pkcs8_der()
            .to_vec();
        let mut client = Client::from_parts(&format!("openssl-{name}"), pem, key_der);
        client.curl_identity = Some((cert.clone(), key.clone()));
        let o = client.pair(&host, "7777", "7777", true);
        assert_eq!(o.phase5_paired, Some(true), "{name}");
        assert_eq!(host.paired_clients().len(), i + 1);
        let curl = |path: &str, with_cert: bool| {
            let mut c = Command::new("curl");
            c.args(["-sk", "--max-time", "10"]);
            if with_cert {
                c.arg("--cert").arg(&cert).arg("--key").arg(&key);
            }
            let out = c
                .arg(format!("https://127.0.0.1:{}{path}", p.https))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let info = curl("/serverinfo?uniqueid=embedded&uuid=1", true);
        assert!(
            info.contains("<PairStatus>1</PairStatus>"),
            "{name}: {info}"
        );
        let apps = curl("/applist?uniqueid=embedded", true);
        assert!(
            apps.contains("<AppTitle>Desktop</AppTitle>"),
            "{name}: {apps}"
        );
        assert!(
            curl("/serverinfo", false).contains("status_code=\"401\""),
            "without a certificate"
        );
    }
    host.shutdown();
}
