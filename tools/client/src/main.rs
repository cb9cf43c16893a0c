//! `punktfunk-client`: headless punktfunk/1 reference client.
//!
//! * `pair --pin PIN`: SPAKE2 PIN pairing; remembers the host fingerprint;
//! * `connect`: session handshake and clock sync, prints the Welcome, then quits;
//! * `stream --seconds N [--out FILE]`: receives video (recvmmsg + core's reassembler), prints
//!   a report per second, verifies the synthetic stream, requests keyframes after losses and
//!   sends loss reports.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use punktfunk_control::native::client::{
    Ended, PairClient, PairOutcome, SessionClient, SessionParams,
};
use punktfunk_control::native::receiver::{ReceiverStats, VideoReceiver};
use punktfunk_control::native::state::{StateDir, write_atomic};
use punktfunk_control::native::tls::{Identity, PinVerify, client_config};
use punktfunk_control::quic::Driver;
use punktfunk_control::runtime::run_pinned;
use punktfunk_core::native::control::message::Message;
use punktfunk_core::native::control::pake::{Fingerprint, Pin};
use punktfunk_core::native::control::{CloseCode, DEFAULT_PORT, Mode, SNI, Wire};

const KNOWN_HOSTS: &str = "known-hosts.json";

#[derive(Debug, Parser)]
#[command(version, about = "punktfunk/1 headless reference client")]
struct Cli {
    /// Host to dial (HOST or HOST:PORT)
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1",
        env = "PUNKTFUNK_HOST"
    )]
    host: String,
    /// Client state directory (identity, known hosts) [default: $XDG_CONFIG_HOME/punktfunk]
    #[arg(long, global = true, env = "PUNKTFUNK_CLIENT_DIR")]
    state_dir: Option<PathBuf>,
    /// Expected host fingerprint (hex); default: the one remembered from pairing
    #[arg(long, global = true)]
    host_fp: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Pair with the host using its PIN
    Pair {
        /// The 4-digit PIN the host shows
        #[arg(long)]
        pin: String,
        /// Name the host stores for this client
        #[arg(long, default_value = "punktfunk-client")]
        name: String,
    },
    /// Handshake and clock sync, print the session offer, quit
    Connect {
        /// Mode to ask for, WxH@HZ
        #[arg(long, default_value = "1280x720@60")]
        mode: String,
    },
    /// Receive video for a while
    Stream {
        /// How long to stream
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Write every reassembled AU here, back to back
        #[arg(long)]
        out: Option<PathBuf>,
        /// Mode to ask for, WxH@HZ
        #[arg(long, default_value = "1280x720@60")]
        mode: String,
        /// Do not check AUs against the synthetic test pattern
        #[arg(long)]
        no_verify: bool,
    },
}

fn parse_mode(s: &str) -> anyhow::Result<Mode> {
    let (wh, hz) = s.split_once('@').context("mode is WxH@HZ")?;
    let (w, h) = wh.split_once('x').context("mode is WxH@HZ")?;
    Ok(Mode::new(w.parse()?, h.parse()?, hz.parse()?))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let addr = resolve(&cli.host)?;
    let dir = match &cli.state_dir {
        Some(d) => d.clone(),
        None => {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                .context("no home directory; pass --state-dir")?;
            base.join("punktfunk")
        }
    };
    let state = StateDir::open(&dir)?;
    let (identity, _) = state.load_or_create_identity_in(
        "client-cert.pem",
        "client-key.pem",
        &["punktfunk-client"],
    )?;
    let known_path = state.path().join(KNOWN_HOSTS);
    let mut known: BTreeMap<String, String> = match std::fs::read(&known_path) {
        Ok(b) => serde_json::from_slice(&b)
            .with_context(|| format!("{} is corrupt", known_path.display()))?,
        Err(_) => BTreeMap::new(),
    };
    let pin_fp = match cli
        .host_fp
        .as_deref()
        .or(known.get(&addr.to_string()).map(String::as_str))
    {
        Some(h) => {
            Some(Fingerprint::from_hex(h).context("host fingerprint must be 64 hex digits")?)
        }
        None => None,
    };
    match cli.cmd {
        Cmd::Pair { pin, name } => {
            let pin = Pin::parse(&pin).context("PIN must be 4 digits")?;
            match pair(addr, identity, pin, name)? {
                PairOutcome::Paired(fp) => {
                    println!("paired; host fingerprint {}", fp.to_hex());
                    known.insert(addr.to_string(), fp.to_hex());
                    write_atomic(&known_path, &serde_json::to_vec_pretty(&known)?)?;
                }
                PairOutcome::WrongPin => {
                    bail!("pairing failed: wrong PIN (or the host certificate changed)")
                }
                PairOutcome::Rejected => bail!("the host rejected the pairing"),
                PairOutcome::Ended(e) => bail!("pairing ended: {e:?}"),
            }
        }
        Cmd::Connect { mode } => {
            let r = session(
                addr,
                identity,
                pin_fp,
                parse_mode(&mode)?,
                Duration::ZERO,
                None,
                false,
            )?;
            if !r.ready {
                bail!("session not established: {:?}", r.ended);
            }
        }
        Cmd::Stream {
            seconds,
            out,
            mode,
            no_verify,
        } => {
            let out = match out {
                Some(p) => Some(BufWriter::new(
                    File::create(&p).with_context(|| format!("{}", p.display()))?,
                )),
                None => None,
            };
            let r = session(
                addr,
                identity,
                pin_fp,
                parse_mode(&mode)?,
                Duration::from_secs(seconds),
                out,
                !no_verify,
            )?;
            let v = r.video;
            println!(
                "total: {} datagrams, {} frames complete ({} recovered, {} lost), {} verified, {} corrupt, {} keyframe requests",
                v.datagrams,
                v.reassembly.frames_complete,
                v.reassembly.frames_recovered,
                v.reassembly.frames_lost,
                v.verified,
                v.corrupt,
                r.keyframe_requests
            );
            if !no_verify && v.corrupt > 0 {
                bail!("verification FAILED: {} corrupt AUs", v.corrupt);
            }
            if v.reassembly.frames_complete == 0 {
                bail!("no frames received ({:?})", r.ended);
            }
        }
    }
    Ok(())
}

fn resolve(host: &str) -> anyhow::Result<SocketAddr> {
    let has_port = host.matches(':').count() == 1 || (host.starts_with('[') && host.contains("]:"));
    let with_port = if has_port {
        host.to_string()
    } else {
        format!("{host}:{DEFAULT_PORT}")
    };
    with_port
        .to_socket_addrs()?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("{host} has no IPv4 address"))
}

fn pair(addr: SocketAddr, id: Identity, pin: Pin, name: String) -> anyhow::Result<PairOutcome> {
    run_pinned("pf-client", &[], move || async move {
        let verifier = PinVerify::new(None);
        let cfg = client_config(Some(&id), verifier.clone(), Duration::from_secs(8))?;
        let mut d = Driver::client("0.0.0.0:0".parse()?, Arc::new(AtomicBool::new(false)))?;
        let h = PairClient::new(pin, &name, id.fingerprint(), verifier);
        let outcome = h.outcome.clone();
        d.connect(cfg, addr, SNI, Box::new(h))?;
        glommio::timer::timeout(Duration::from_secs(90), async {
            d.run().await.map_err(Into::into)
        })
        .await
        .map_err(|e| anyhow::anyhow!("pairing: {e}"))?;
        let o = outcome.borrow().clone();
        o.context("connection ended without an outcome")
    })?
}

struct SessionReport {
    ready: bool,
    ended: Option<Ended>,
    video: ReceiverStats,
    keyframe_requests: u32,
}

fn session(
    addr: SocketAddr,
    id: Identity,
    pin: Option<Fingerprint>,
    mode: Mode,
    duration: Duration,
    out: Option<BufWriter<File>>,
    verify: bool,
) -> anyhow::Result<SessionReport> {
    run_pinned("pf-client", &[], move || async move {
        let verifier = PinVerify::new(pin);
        let cfg = client_config(Some(&id), verifier, Duration::from_secs(8))?;
        let mut d = Driver::client("0.0.0.0:0".parse()?, Arc::new(AtomicBool::new(false)))?;
        let h = SessionClient::new(SessionParams {
            mode,
            ..SessionParams::default()
        });
        let state = h.state.clone();
        d.connect(cfg, addr, SNI, Box::new(h))?;
        let driver = glommio::spawn_local(d.run());
        let setup_deadline = Instant::now() + Duration::from_secs(15);
        while !state.borrow().ready
            && state.borrow().ended.is_none()
            && Instant::now() < setup_deadline
        {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        let ready = state.borrow().ready;
        let mut report = SessionReport {
            ready,
            ended: None,
            video: ReceiverStats::default(),
            keyframe_requests: 0,
        };
        if ready {
            let (w, sock) = {
                let mut st = state.borrow_mut();
                (
                    st.welcome.context("no Welcome")?,
                    st.data_socket.take().context("no data socket")?,
                )
            };
            println!(
                "session: {}x{}@{} codec {:#04x} S={} K={} FEC {}% data port {} frames {} clock offset {} ns",
                w.mode.width,
                w.mode.height,
                w.mode.refresh_hz,
                w.codec,
                w.shard_payload,
                w.max_data_per_block,
                w.fec_percent,
                w.udp_port,
                w.frames,
                state.borrow().clock_offset_ns.unwrap_or(0)
            );
            if !duration.is_zero() {
                let stop = Arc::new(AtomicBool::new(false));
                let shared = Arc::new(Mutex::new(ReceiverStats::default()));
                let dest = SocketAddr::new(addr.ip(), w.udp_port);
                let (stop2, shared2) = (stop.clone(), shared.clone());
                let mut out = out;
                let rx = std::thread::spawn(move || -> anyhow::Result<ReceiverStats> {
                    let mut rx =
                        VideoReceiver::new(sock, dest, &w, verify).map_err(anyhow::Error::msg)?;
                    while !stop2.load(Ordering::Relaxed) {
                        rx.poll(Duration::from_millis(20), |f| {
                            if let Some(o) = out.as_mut() {
                                let _ = o.write_all(f.bytes());
                            }
                        })?;
                        *shared2.lock().unwrap_or_else(|e| e.into_inner()) = rx.stats();
                    }
                    if let Some(mut o) = out {
                        o.flush()?;
                    }
                    Ok(rx.stats())
                });
                let start = Instant::now();
                let mut last = ReceiverStats::default();
                let mut last_lost = 0u64;
                let mut last_report = start;
                let mut last_loss = start;
                let mut loss_base = ReceiverStats::default();
                while start.elapsed() < duration && state.borrow().ended.is_none() {
                    glommio::timer::sleep(Duration::from_millis(10)).await;
                    let now_stats = *shared.lock().unwrap_or_else(|e| e.into_inner());
                    let mut outbox = Vec::new();
                    if now_stats.reassembly.frames_lost > last_lost {
                        last_lost = now_stats.reassembly.frames_lost;
                        outbox.push(Message::RequestKeyframe);
                        report.keyframe_requests += 1;
                    }
                    if last_loss.elapsed() >= Duration::from_millis(750) {
                        let r = now_stats.reassembly;
                        let b = loss_base.reassembly;
                        let recovered = r.shards_recovered - b.shards_recovered;
                        let received = r.datagrams_ok - b.datagrams_ok;
                        let mut ppm = (recovered * 1_000_000)
                            .checked_div(received + recovered)
                            .unwrap_or(0) as u32;
                        if r.frames_lost > b.frames_lost {
                            ppm += 50_000;
                        }
                        outbox.push(Message::LossReport { loss_ppm: ppm });
                        loss_base = now_stats;
                        last_loss = Instant::now();
                    }
                    for m in outbox {
                        let mut b = vec![0u8; m.buffer_len()];
                        m.emit(&mut b)?;
                        state.borrow_mut().outbox.push_back(b);
                    }
                    if last_report.elapsed() >= Duration::from_secs(1) {
                        let dt = last_report.elapsed().as_secs_f64();
                        let (r, p) = (now_stats.reassembly, last.reassembly);
                        println!(
                            "{:>4.0}s goodput {:.1} Mbit/s, frames {} complete / {} recovered / {} lost, verified {} corrupt {}, keyframe requests {}",
                            start.elapsed().as_secs_f64(),
                            (now_stats.bytes - last.bytes) as f64 * 8.0 / dt / 1e6,
                            r.frames_complete - p.frames_complete,
                            r.frames_recovered - p.frames_recovered,
                            r.frames_lost - p.frames_lost,
                            now_stats.verified - last.verified,
                            now_stats.corrupt - last.corrupt,
                            report.keyframe_requests
                        );
                        last = now_stats;
                        last_report = Instant::now();
                    }
                }
                stop.store(true, Ordering::Relaxed);
                report.video = rx
                    .join()
                    .map_err(|_| anyhow::anyhow!("receiver panicked"))??;
            }
        }
        if state.borrow().ended.is_none() {
            state.borrow_mut().quit = Some(CloseCode::CLIENT_QUIT);
        }
        driver.await?;
        report.ended = state.borrow().ended.clone();
        anyhow::Ok(report)
    })?
}
