//! End-to-end over loopback, host and client each on their own glommio executor thread:
//! pairing (right PIN, wrong PIN), admission (unpaired, anonymous), and a bounded synthetic
//! session with clock sync, runtime messages, input datagrams and every frame verified.
//! The data plane is the real one: core's frame sealer (AES-128-GCM, GF(2¹⁶) FEC) on the host,
//! `recvmmsg` + core's reassembler on the client, every AU checked against the §5.7 pattern.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use punktfunk_control::native::client::{
    Ended, PairClient, PairOutcome, SessionClient, SessionParams,
};
use punktfunk_control::native::host::{
    HostConfig, HostState, HostStats, InputSink, handler_factory,
};
use punktfunk_control::native::receiver::{ReceiverStats, VideoReceiver};
use punktfunk_control::native::sealer::native_sealer_factory;
use punktfunk_control::native::state::StateDir;
use punktfunk_control::native::tls::{Identity, PinVerify, client_config, server_config};
use punktfunk_control::quic::Driver;
use punktfunk_control::runtime::run_pinned;
use punktfunk_core::native::control::datagram::{InputEventRepr, input_kind};
use punktfunk_core::native::control::message::{Message, ty};
use punktfunk_core::native::control::pake::{Fingerprint, Pin};
use punktfunk_core::native::control::{CloseCode, Wire};

#[derive(Clone, Default)]
struct RecordingInput(Arc<Mutex<Vec<InputEventRepr>>>);

impl InputSink for RecordingInput {
    fn input(&mut self, _client: Option<Fingerprint>, event: InputEventRepr) {
        self.0.lock().unwrap().push(event);
    }
}

struct Host {
    addr: SocketAddr,
    fp: Fingerprint,
    stop: Arc<AtomicBool>,
    join: std::thread::JoinHandle<HostStats>,
    input: RecordingInput,
}

fn start_host(dir: &std::path::Path, config: HostConfig, pin: &str) -> Host {
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let input = RecordingInput::default();
    let (dir, stop2, input2, pin) = (
        dir.to_path_buf(),
        stop.clone(),
        input.clone(),
        Pin::parse(pin).unwrap(),
    );
    let join = std::thread::spawn(move || {
        run_pinned("test-host", &[], move || async move {
            let sd = StateDir::open(&dir).unwrap();
            let (id, _) = sd.load_or_create_identity(&["localhost"]).unwrap();
            let paired = sd.load_paired().unwrap();
            let sealers = native_sealer_factory();
            let state = HostState::new(
                config,
                id.fingerprint(),
                paired,
                Some(pin),
                Box::new(|_| {}),
                Box::new(input2),
                sealers,
            );
            let sc = server_config(&id, Duration::from_secs(8)).unwrap();
            let driver = Driver::server(
                "127.0.0.1:0".parse().unwrap(),
                sc,
                handler_factory(state.clone()),
                stop2,
            )
            .unwrap();
            tx.send((driver.local_addr().unwrap(), id.fingerprint()))
                .unwrap();
            driver.run().await.unwrap();
            state.borrow().stats
        })
        .unwrap()
    });
    let (addr, fp) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Host {
        addr,
        fp,
        stop,
        join,
        input,
    }
}

impl Host {
    fn stop(self) -> HostStats {
        self.stop.store(true, Ordering::Relaxed);
        self.join.join().unwrap()
    }
}

fn pair(addr: SocketAddr, id: &Identity, pin: &str) -> PairOutcome {
    let id = id.clone();
    let pin = Pin::parse(pin).unwrap();
    std::thread::spawn(move || {
        run_pinned("test-pair", &[], move || async move {
            let verifier = PinVerify::new(None);
            let cfg = client_config(Some(&id), verifier.clone(), Duration::from_secs(8)).unwrap();
            let mut d = Driver::client(
                "0.0.0.0:0".parse().unwrap(),
                Arc::new(AtomicBool::new(false)),
            )
            .unwrap();
            let h = PairClient::new(pin, "e2e", id.fingerprint(), verifier);
            let outcome = h.outcome.clone();
            d.connect(cfg, addr, "punktfunk", Box::new(h)).unwrap();
            glommio::timer::timeout(Duration::from_secs(20), async {
                d.run().await.map_err(Into::into)
            })
            .await
            .unwrap();
            outcome.borrow().clone().expect("a pairing outcome")
        })
        .unwrap()
    })
    .join()
    .unwrap()
}

struct SessionResult {
    ended: Option<Ended>,
    clock_rounds: u32,
    video: ReceiverStats,
    received: Vec<(u8, Vec<u8>)>,
}

/// Connects, receives the synthetic stream until the host ends it (or `deadline`), sending a
/// few runtime messages and input datagrams along the way.
fn session(
    addr: SocketAddr,
    id: Option<&Identity>,
    pin_host: Option<Fingerprint>,
) -> SessionResult {
    let id = id.cloned();
    std::thread::spawn(move || {
        run_pinned("test-session", &[], move || async move {
            let verifier = PinVerify::new(pin_host);
            let cfg = client_config(id.as_ref(), verifier, Duration::from_secs(8)).unwrap();
            let mut d = Driver::client(
                "0.0.0.0:0".parse().unwrap(),
                Arc::new(AtomicBool::new(false)),
            )
            .unwrap();
            let h = SessionClient::new(SessionParams::default());
            let state = h.state.clone();
            d.connect(cfg, addr, "punktfunk", Box::new(h)).unwrap();
            let driver = glommio::spawn_local(d.run());
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut receiver: Option<std::thread::JoinHandle<ReceiverStats>> = None;
            let rx_stop = Arc::new(AtomicBool::new(false));
            let mut sent_runtime = false;
            while Instant::now() < deadline && state.borrow().ended.is_none() {
                glommio::timer::sleep(Duration::from_millis(10)).await;
                let mut st = state.borrow_mut();
                if st.ready && receiver.is_none() {
                    let sock = st.data_socket.take().unwrap();
                    let dest = SocketAddr::new(addr.ip(), st.welcome.unwrap().udp_port);
                    let welcome = st.welcome.unwrap();
                    let stop = rx_stop.clone();
                    receiver = Some(std::thread::spawn(move || {
                        let mut rx = VideoReceiver::new(sock, dest, &welcome, true).unwrap();
                        while !stop.load(Ordering::Relaxed) {
                            rx.poll(Duration::from_millis(50), |_| {}).unwrap();
                        }
                        rx.stats()
                    }));
                }
                if st.ready && !sent_runtime {
                    sent_runtime = true;
                    for m in [
                        Message::RequestKeyframe,
                        Message::LossReport { loss_ppm: 20_000 },
                        Message::SetBitrate { kbps: 20_000 },
                        Message::ClockProbe { t1_ns: 42 },
                        Message::Other {
                            ty: 0x77,
                            body: b"future message",
                        },
                    ] {
                        let mut b = vec![0u8; m.buffer_len()];
                        m.emit(&mut b).unwrap();
                        st.outbox.push_back(b);
                    }
                    let ev = InputEventRepr {
                        kind: input_kind::KEY_DOWN,
                        code: 0x41,
                        x: 0,
                        y: 0,
                        flags: 0,
                    };
                    let mut b = vec![0u8; 18];
                    ev.emit(&mut b).unwrap();
                    st.datagrams.push_back(b);
                }
            }
            rx_stop.store(true, Ordering::Relaxed);
            let video = receiver.map(|r| r.join().unwrap()).unwrap_or_default();
            if state.borrow().ended.is_none() {
                state.borrow_mut().quit = Some(CloseCode::CLIENT_QUIT);
            }
            driver.await.unwrap();
            let st = state.borrow();
            SessionResult {
                ended: st.ended.clone(),
                clock_rounds: st.clock_rounds,
                video,
                received: st.received.clone(),
            }
        })
        .unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn pairing_admission_and_synthetic_session() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = HostConfig {
        frames: 30,
        ..HostConfig::default()
    };
    let host = start_host(tmp.path(), cfg, "4321");
    let client = Identity::generate(&["punktfunk-client"]).unwrap();

    // Unpaired client: refused with 0x64; anonymous client: 0x63.
    let r = session(host.addr, Some(&client), None);
    assert!(
        matches!(r.ended, Some(Ended::ByHost(CloseCode::DENIED, _))),
        "{:?}",
        r.ended
    );
    let r = session(host.addr, None, None);
    assert!(
        matches!(
            r.ended,
            Some(Ended::ByHost(CloseCode::IDENTITY_REQUIRED, _))
        ),
        "{:?}",
        r.ended
    );

    // Wrong PIN: the client detects it and sends no proof.
    assert_eq!(pair(host.addr, &client, "1234"), PairOutcome::WrongPin);
    // Within the 2 s cooldown the host rate-limits.
    match pair(host.addr, &client, "4321") {
        PairOutcome::Ended(Ended::ByHost(CloseCode::PAIRING_RATE_LIMITED, _)) => {}
        other => panic!("expected rate limiting, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(2100));
    // Right PIN pairs, and the client learns the host's real fingerprint.
    assert_eq!(
        pair(host.addr, &client, "4321"),
        PairOutcome::Paired(host.fp)
    );
    let paired = StateDir::open(tmp.path()).unwrap().load_paired().unwrap();
    assert!(paired.contains(&client.fingerprint()));

    // A pinned session: 30 synthetic frames, all intact; the host ends it with code 0.
    let r = session(host.addr, Some(&client), Some(host.fp));
    assert_eq!(r.clock_rounds, 8);
    assert_eq!(
        (r.video.verified, r.video.corrupt),
        (30, 0),
        "{:?}",
        r.video
    );
    assert_eq!(r.video.reassembly.frames_complete, 30);
    assert_eq!(r.video.reassembly.datagrams_bad, 0);
    // AU 0 and the AU after the keyframe request are recovery points.
    assert!(r.video.recovery_points >= 2, "{:?}", r.video);
    assert!(
        matches!(r.ended, Some(Ended::ByHost(CloseCode::NORMAL, _))),
        "{:?}",
        r.ended
    );
    let types: Vec<u8> = r.received.iter().map(|(t, _)| *t).collect();
    assert!(types.contains(&ty::BITRATE_CHANGED), "{types:?}");
    assert!(types.contains(&ty::CLOCK_ECHO), "{types:?}");
    let echo = r
        .received
        .iter()
        .find(|(t, _)| *t == ty::CLOCK_ECHO)
        .unwrap();
    assert_eq!(&echo.1[1..9], &42u64.to_le_bytes());

    let input = host.input.0.lock().unwrap().clone();
    let stats = host.stop();
    assert_eq!(input.len(), 1);
    assert_eq!(input[0].code, 0x41);
    assert_eq!(stats.paired, 1);
    assert_eq!(stats.pair_failures, 2);
    assert_eq!(stats.refused, 2);
    assert_eq!(stats.sessions, 1);
}
