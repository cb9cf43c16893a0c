//! The `punktfunk-host` binary: prints a pairing PIN, pairs a client with it, tells a running
//! session when it gets SIGTERM, exits cleanly and keeps its state.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use punktfunk_control::native::client::{
    Ended, PairClient, PairOutcome, SessionClient, SessionParams,
};
use punktfunk_control::native::state::StateDir;
use punktfunk_control::native::tls::{Identity, PinVerify, client_config};
use punktfunk_control::quic::Driver;
use punktfunk_control::runtime::run_pinned;
use punktfunk_core::native::control::CloseCode;
use punktfunk_core::native::control::pake::Pin;

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn pin_pairing_sigterm_tells_sessions_and_exits_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_punktfunk-host"))
        .args([
            "--state-dir",
            tmp.path().to_str().unwrap(),
            "--bind",
            "127.0.0.1",
            "--no-gamestream",
        ])
        .args(["--port", &port.to_string(), "--config", "/dev/null"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("a PIN line").unwrap();
    let pin = Pin::parse(line.strip_prefix("pairing PIN: ").expect(&line)).unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let id = Identity::generate(&["punktfunk-client"]).unwrap();

    let id2 = id.clone();
    let outcome = run_pinned("t-pair", &[], move || async move {
        let verifier = PinVerify::new(None);
        let cfg = client_config(Some(&id2), verifier.clone(), Duration::from_secs(8)).unwrap();
        let mut d = Driver::client(
            "0.0.0.0:0".parse().unwrap(),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        let h = PairClient::new(pin, "bin-test", id2.fingerprint(), verifier);
        let o = h.outcome.clone();
        d.connect(cfg, addr, "punktfunk", Box::new(h)).unwrap();
        d.run().await.unwrap();
        o.borrow().clone()
    })
    .unwrap();
    assert!(
        matches!(outcome, Some(PairOutcome::Paired(_))),
        "{outcome:?}"
    );
    // A fresh PIN is armed for the next ceremony.
    let next = lines.next().expect("a second PIN line").unwrap();
    assert!(next.starts_with("pairing PIN: "), "{next}");

    // A session is running when the host gets SIGTERM: the client is told (code 0).
    let pid = child.id() as i32;
    let id3 = id.clone();
    let ended = run_pinned("t-session", &[], move || async move {
        let cfg = client_config(Some(&id3), PinVerify::new(None), Duration::from_secs(8)).unwrap();
        let mut d = Driver::client(
            "0.0.0.0:0".parse().unwrap(),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        let h = SessionClient::new(SessionParams::default());
        let st = h.state.clone();
        d.connect(cfg, addr, "punktfunk", Box::new(h)).unwrap();
        let driver = glommio::spawn_local(d.run());
        let deadline = Instant::now() + Duration::from_secs(15);
        while !st.borrow().ready && Instant::now() < deadline {
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            st.borrow().ready,
            "session never became ready: {:?}",
            st.borrow().ended
        );
        // SAFETY: kill(2) on the child we spawned.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        driver.await.unwrap();
        st.borrow().ended.clone()
    })
    .unwrap();
    assert!(
        matches!(ended, Some(Ended::ByHost(CloseCode::NORMAL, _))),
        "{ended:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "host did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let paired = StateDir::open(tmp.path()).unwrap().load_paired().unwrap();
    assert!(paired.contains(&id.fingerprint()));
}
