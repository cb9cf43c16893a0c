//! An in-repo GameStream test client: what Moonlight does on the wire for pairing, the
//! HTTP/HTTPS API and the RTSP handshake, written from gamestream-protocol.md (§2-§4).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_lc_rs::signature::RsaKeyPair;
use punktfunk_control::gamestream::hex;
use punktfunk_control::gamestream::pairing::{
    self, ClientCert, aes_ecb_decrypt, aes_ecb_encrypt, derive_key, rsa_sign, sha256,
};
use punktfunk_control::gamestream::{GameStreamHost, HostConfig, StartError};
use punktfunk_core::gamestream::rtsp::{Direction, ParsedResponse, RtspCipher};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Log lines written by the host during the tests of this binary.
pub fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("punktfunk_control=debug")
            .with_ansi(false)
            .with_writer(move || LogWriter(b.clone()))
            .try_init();
        buf
    })
    .clone()
}

pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        std::io::stderr().write_all(b)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts a host on loopback with a random base port (retrying on collisions).
pub fn start_host(state_dir: &std::path::Path, tweak: impl Fn(&mut HostConfig)) -> GameStreamHost {
    logs();
    for _ in 0..40 {
        let base = 20_000 + (rand::random::<u16>() % 40_000);
        let mut config = HostConfig {
            hostname: "test-host".into(),
            bind: "127.0.0.1".parse().unwrap(),
            base_port: base,
            state_dir: state_dir.to_owned(),
            pin_timeout: Duration::from_secs(20),
            io_timeout: Duration::from_secs(5),
            ..HostConfig::default()
        };
        tweak(&mut config);
        match GameStreamHost::start(config) {
            Ok(h) => return h,
            Err(StartError::Bind { .. }) => continue,
            Err(e) => panic!("host start: {e}"),
        }
    }
    panic!("no free base port found");
}

/// An HTTP response: status line code and body.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first `<name>` element (moonlight-qt's lookup).
    pub fn el(&self, name: &str) -> Option<String> {
        let t = self.text();
        let open = format!("<{name}>");
        let start = t.find(&open)? + open.len();
        let end = t[start..].find(&format!("</{name}>"))? + start;
        Some(t[start..end].to_owned())
    }

    /// `status_code` attribute of `<root>`.
    pub fn status_code(&self) -> Option<u16> {
        let t = self.text();
        let i = t.find("<root status_code=\"")? + "<root status_code=\"".len();
        t[i..].split('"').next()?.parse().ok()
    }
}

fn parse_http(raw: &[u8]) -> HttpReply {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("complete HTTP head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("")
        .to_owned();
    HttpReply {
        status,
        content_type,
        body: raw[head_end..].to_vec(),
    }
}

fn request_bytes(path_and_query: &str) -> Vec<u8> {
    format!("GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// Plain HTTP GET (connection closed after the reply).
pub fn http_get(port: u16, path_and_query: &str) -> HttpReply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&request_bytes(path_and_query)).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_http(&raw)
}

/// Pins one server certificate (moonlight-qt accepts exactly the pinned one).
#[derive(Debug)]
struct PinnedServer(Vec<u8>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("certificate mismatch".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

/// A Moonlight-like client identity.
pub struct Client {
    pub uniqueid: String,
    pub pem: String,
    pub der: Vec<u8>,
    key_der: Vec<u8>,
    key: RsaKeyPair,
    /// The host certificate (DER) pinned after pairing phase 1.
    pub pinned: Option<Vec<u8>>,
    /// Use the `curl` command (OpenSSL TLS, like moonlight-embedded) with these certificate
    /// and key files for HTTPS instead of rustls.
    pub curl_identity: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Client {
    pub fn new(uniqueid: &str) -> Self {
        let (pem, key_der) =
            pairing::generate_self_signed("NVIDIA GameStream Client", Some(&[0])).unwrap();
        Self::from_parts(uniqueid, pem, key_der)
    }

    /// A client with a given certificate (PEM) and PKCS#8 key (DER).
    pub fn from_parts(uniqueid: &str, pem: String, key_der: Vec<u8>) -> Self {
        let der = ClientCert::from_pem(pem.as_bytes()).unwrap().der().to_vec();
        let key = RsaKeyPair::from_pkcs8(&key_der).unwrap();
        Self {
            uniqueid: uniqueid.into(),
            pem,
            der,
            key_der,
            key,
            pinned: None,
            curl_identity: None,
        }
    }

    fn tls_config(&self, with_cert: bool) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let pinned = self.pinned.clone().expect("host certificate pinned");
        let b = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServer(pinned, provider)));
        let config = if with_cert {
            b.with_client_auth_cert(
                vec![CertificateDer::from(self.der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .unwrap()
        } else {
            b.with_no_client_auth()
        };
        Arc::new(config)
    }

    /// HTTPS GET with (or without) the client certificate; `Err` if TLS fails.
    fn curl_get(
        &self,
        port: u16,
        path_and_query: &str,
        with_cert: bool,
    ) -> Result<HttpReply, String> {
        let mut c = std::process::Command::new("curl");
        c.args(["-sk", "-i", "--max-time", "20"]);
        if let (true, Some((cert, key))) = (with_cert, &self.curl_identity) {
            c.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        let out = c
            .arg(format!("https://127.0.0.1:{port}{path_and_query}"))
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("curl: {}", out.status));
        }
        Ok(parse_http(&out.stdout))
    }

    pub fn https_get_with(
        &self,
        port: u16,
        path_and_query: &str,
        with_cert: bool,
    ) -> Result<HttpReply, String> {
        if self.curl_identity.is_some() {
            return self.curl_get(port, path_and_query, with_cert);
        }
        let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let conn = rustls::ClientConnection::new(
            self.tls_config(with_cert),
            ServerName::try_from("localhost").unwrap(),
        )
        .map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, sock);
        tls.write_all(&request_bytes(path_and_query))
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        // The host ends each response with close_notify: a clean EOF.
        tls.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        Ok(parse_http(&raw))
    }

    pub fn https_get(&self, port: u16, path_and_query: &str) -> HttpReply {
        self.https_get_with(port, path_and_query, true).unwrap()
    }

    fn q(&self) -> String {
        format!(
            "uniqueid={}&uuid={:032x}",
            self.uniqueid,
            rand::random::<u128>()
        )
    }

    /// Pairs as moonlight-qt does. The host's PIN is entered by `enter_pin` once phase 1 is
    /// waiting. Returns the outcome of each stage.
    pub fn pair(
        &mut self,
        host: &GameStreamHost,
        client_pin: &str,
        host_pin: &str,
        send_phase4_even_if_pin_check_fails: bool,
    ) -> PairOutcome {
        let http = host.ports().http;
        let salt: [u8; 16] = rand::random();
        let phase1 = format!(
            "/pair?{}&devicename=roth&updateState=1&phrase=getservercert&salt={}&clientcert={}",
            self.q(),
            hex::encode_upper(&salt).to_lowercase(),
            hex::encode_upper(self.pem.as_bytes()).to_lowercase()
        );
        let t = std::thread::spawn(move || http_get(http, &phase1));
        // The user reads the PIN off the client and types it on the host.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !host.pairing_pending() {
            assert!(
                std::time::Instant::now() < deadline,
                "phase 1 never reached the host"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        host.submit_pin(host_pin, "test client").unwrap();
        let r1 = t.join().unwrap();
        assert_eq!(r1.status, 200);
        assert_eq!(r1.el("paired").as_deref(), Some("1"), "{}", r1.text());
        let host_pem = hex::decode(&r1.el("plaincert").unwrap()).unwrap();
        let host_cert = ClientCert::from_pem(&host_pem).unwrap();
        self.pinned = Some(host_cert.der().to_vec());
        let k = derive_key(&salt, client_pin);

        // Phase 2.
        let cc: [u8; 16] = rand::random();
        let mut enc = cc.to_vec();
        aes_ecb_encrypt(&k, &mut enc).unwrap();
        let r2 = http_get(
            http,
            &format!(
                "/pair?{}&devicename=roth&updateState=1&clientchallenge={}",
                self.q(),
                hex::encode_upper(&enc)
            ),
        );
        assert_eq!(r2.el("paired").as_deref(), Some("1"), "{}", r2.text());
        let mut resp = hex::decode(&r2.el("challengeresponse").unwrap()).unwrap();
        assert_eq!(resp.len(), 48);
        aes_ecb_decrypt(&k, &mut resp).unwrap();
        let (h1, host_challenge) = resp.split_at(32);

        // Phase 3.
        let client_secret: [u8; 16] = rand::random();
        let own = ClientCert::from_pem(self.pem.as_bytes()).unwrap();
        let mut h2 = sha256(&[host_challenge, own.cert_signature(), &client_secret]).to_vec();
        aes_ecb_encrypt(&k, &mut h2).unwrap();
        let r3 = http_get(
            http,
            &format!(
                "/pair?{}&devicename=roth&updateState=1&serverchallengeresp={}",
                self.q(),
                hex::encode_upper(&h2)
            ),
        );
        assert_eq!(r3.el("paired").as_deref(), Some("1"), "{}", r3.text());
        let ps = hex::decode(&r3.el("pairingsecret").unwrap()).unwrap();
        let (host_secret, host_sig) = ps.split_at(16);
        assert!(
            host_cert.verify(host_secret, host_sig),
            "MITM check: host signature"
        );
        let pin_ok = sha256(&[&cc, host_cert.cert_signature(), host_secret])[..] == *h1;
        if !pin_ok && !send_phase4_even_if_pin_check_fails {
            http_get(http, &format!("/unpair?{}", self.q()));
            return PairOutcome {
                client_pin_check: false,
                phase4_paired: None,
                phase5_paired: None,
            };
        }

        // Phase 4.
        let mut cps = client_secret.to_vec();
        cps.extend_from_slice(&rsa_sign(&self.key, &client_secret));
        let r4 = http_get(
            http,
            &format!(
                "/pair?{}&devicename=roth&updateState=1&clientpairingsecret={}",
                self.q(),
                hex::encode_upper(&cps)
            ),
        );
        assert_eq!(r4.status_code(), Some(200));
        let p4 = r4.el("paired").as_deref() == Some("1");
        if !p4 {
            return PairOutcome {
                client_pin_check: pin_ok,
                phase4_paired: Some(false),
                phase5_paired: None,
            };
        }

        // Phase 5 over HTTPS with the now-paired certificate.
        let r5 = self.https_get(
            host.ports().https,
            &format!(
                "/pair?{}&devicename=roth&updateState=1&phrase=pairchallenge",
                self.q()
            ),
        );
        PairOutcome {
            client_pin_check: pin_ok,
            phase4_paired: Some(true),
            phase5_paired: Some(r5.el("paired").as_deref() == Some("1")),
        }
    }

    pub fn launch_query(&self, appid: u32, rikey: &[u8; 16], rikeyid: i32, corever: u32) -> String {
        format!(
            "{}&appid={appid}&mode=1920x1080x60&additionalStates=1&sops=0&rikey={}&rikeyid={rikeyid}&localAudioPlayMode=0&surroundAudioInfo=196610&remoteControllersBitmap=1&gcmap=1&gcpersist=0&corever={corever}",
            self.q(),
            hex::encode_upper(rikey).to_lowercase()
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct PairOutcome {
    pub client_pin_check: bool,
    pub phase4_paired: Option<bool>,
    pub phase5_paired: Option<bool>,
}

/// The RTSP side of the client (moonlight-common-c's RtspConnection.c, from the spec).
pub struct RtspClient {
    pub addr: SocketAddr,
    pub cipher: Option<RtspCipher>,
    pub seq: u32,
    pub cseq: u32,
    pub host_header: String,
}

/// One RTSP reply: status, headers by exact name, body.
#[derive(Debug)]
pub struct RtspReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RtspReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl RtspClient {
    /// From a `sessionUrl0` such as `rtspenc://127.0.0.1:48010`.
    pub fn from_url(url: &str, rikey: &[u8; 16]) -> Self {
        let encrypted = url.contains("rtspenc://");
        let hostport = url.split("://").nth(1).unwrap();
        let addr: SocketAddr = hostport.parse().unwrap();
        Self {
            addr,
            cipher: encrypted.then(|| RtspCipher::new(rikey)),
            seq: 0,
            cseq: 0,
            host_header: addr.ip().to_string(),
        }
    }

    /// Sends one request on a fresh connection, reads until the host closes.
    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> RtspReply {
        self.cseq += 1;
        let mut msg = format!(
            "{method} {target} RTSP/1.0\r\nCSeq: {}\r\nX-GS-ClientVersion: 14\r\nHost: {}\r\n",
            self.cseq, self.host_header
        );
        for (n, v) in extra {
            msg.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() {
            msg.push_str(&format!("Content-length: {}\r\n", body.len()));
        }
        msg.push_str("\r\n");
        let mut bytes = msg.into_bytes();
        bytes.extend_from_slice(body);
        let raw = self.exchange(&bytes);
        let parsed = ParsedResponse::parse(&raw).expect("well-formed RTSP reply");
        let text = String::from_utf8(raw.clone()).unwrap();
        let headers = text
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| {
                l.split_once(": ")
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
            })
            .collect();
        RtspReply {
            status: parsed.status,
            headers,
            body: String::from_utf8_lossy(parsed.body).into_owned(),
        }
    }

    /// Sends raw plaintext bytes (sealed if the session is encrypted); returns the raw reply
    /// (opened if encrypted).
    pub fn exchange(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let wire = match &self.cipher {
            Some(c) => {
                self.seq += 1;
                c.seal_to_vec(self.seq, Direction::ClientToHost, plaintext)
            }
            None => plaintext.to_vec(),
        };
        let mut raw = Vec::new();
        // A refused request may be answered by a reset (the host closed with unread bytes).
        if s.write_all(&wire).is_err() || s.read_to_end(&mut raw).is_err() || raw.is_empty() {
            return Vec::new();
        }
        match &self.cipher {
            Some(c) => {
                c.open_to_vec(&raw, Direction::HostToClient)
                    .expect("sealed reply")
                    .1
            }
            None => raw,
        }
    }
}

/// Appendix C.3's ANNOUNCE body.
pub fn announce_body() -> Vec<u8> {
    let attrs = [
        "x-ml-general.featureFlags:3",
        "x-ss-general.encryptionEnabled:5",
        "x-ss-video[0].chromaSamplingType:0",
        "x-nv-video[0].clientViewportWd:1920",
        "x-nv-video[0].clientViewportHt:1080",
        "x-nv-video[0].maxFPS:60",
        "x-nv-video[0].packetSize:1392",
        "x-nv-video[0].rateControlMode:4",
        "x-nv-vqos[0].bw.maximumBitrateKbps:16000",
        "x-ml-video.configuredBitrateKbps:20000",
        "x-nv-general.featureFlags:167",
        "x-nv-general.useReliableUdp:13",
        "x-nv-vqos[0].fec.minRequiredFecPackets:2",
        "x-nv-video[0].videoEncoderSlicesPerFrame:1",
        "x-nv-clientSupportHevc:0",
        "x-nv-vqos[0].bitStreamFormat:0",
        "x-nv-video[0].dynamicRangeMode:0",
        "x-nv-video[0].maxNumReferenceFrames:0",
        "x-nv-video[0].clientRefreshRateX100:6000",
        "x-nv-audio.surround.numChannels:2",
        "x-nv-audio.surround.channelMask:3",
        "x-nv-audio.surround.enable:0",
        "x-nv-audio.surround.AudioQuality:0",
        "x-nv-aqos.packetDuration:5",
        "x-nv-video[0].encoderCscMode:2",
    ];
    let mut s =
        String::from("v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n");
    for a in attrs {
        s.push_str(&format!("a={a} \r\n"));
    }
    s.push_str("t=0 0\r\nm=video 47998  \r\n");
    s.into_bytes()
}
