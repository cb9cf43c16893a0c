//! `punktfunk-bench`: throughput runs.
//!
//! `punktfunk-bench line-rate` seals punktfunk/1 frames (GF(2¹⁶) FEC + AES-128-GCM, core
//! `native`) on the pinned datapath thread and sends them, unpaced, through each engine in
//! turn: a simulated NIC (what one core can seal and enqueue), then AF_XDP, io_uring + GSO and
//! sendmmsg over a veth pair into a test namespace. There a receiver (the client's side: core
//! `Reassembler`, decryption, GF(2¹⁶) recovery) checks every frame's bytes and measures
//! submit→reassembled latency; `--no-verify` leaves only a counter of datagrams that arrived.

mod sim;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use punktfunk_core::crypto::{AeadAlgorithm, AeadKey};
use punktfunk_core::native::data::DataCipher;
use punktfunk_core::native::data::reassembler::{Reassembler, ReassemblerConfig};
use punktfunk_core::native::data::sealer::{FrameSealer as NativeSealer, SealerConfig};
use punktfunk_core::slots::DatagramBuf;
use punktfunk_datapath::mmsg::MmsgConfig;
use punktfunk_datapath::pipeline::{self, DatapathConfig, StagedSealer};
use punktfunk_datapath::uring::UringConfig;
use punktfunk_datapath::xdp::XdpConfig;
use punktfunk_datapath::{EngineConfig, Flow, TxQueue, open_engine};
use punktfunk_testnet::VethNet;

#[derive(Parser)]
#[command(name = "punktfunk-bench", about = "punktfunk throughput runs")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Seal and send frames as fast as each engine goes.
    LineRate(LineRate),
}

#[derive(Parser)]
struct LineRate {
    /// Seconds per engine.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Bytes per frame (access unit).
    #[arg(long, default_value_t = 1 << 20)]
    frame_bytes: usize,
    /// FEC parity percentage.
    #[arg(long, default_value_t = 20)]
    fec: u8,
    /// Line rate of the simulated NIC in Gbit/s (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    sim_gbps: f64,
    /// Engines to run, comma-separated: sim, xdp, uring, mmsg.
    #[arg(long, default_value = "sim,xdp,uring,mmsg")]
    engines: String,
    /// Do not reassemble and verify frames at the receiver (count datagrams only).
    #[arg(long)]
    no_verify: bool,
    /// Print the results as one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

const KEY: [u8; 16] = [0x42; 16];
const SALT: [u8; 4] = [9, 8, 7, 6];

/// Monotonic nanoseconds on a clock shared by sender and receiver (one process).
fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// What the receiver saw during one run.
#[derive(Debug, Default)]
struct Verified {
    intact: u64,
    corrupt: u64,
    recovered: u64,
    lost: u64,
    latencies_us: Vec<u32>,
}

impl Verified {
    fn percentile(&self, q: usize) -> Option<u32> {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        v.get((v.len() * q / 100).min(v.len().saturating_sub(1)))
            .copied()
    }
}

/// Receives on `sink` until `stop`, reassembling and checking every frame against `expect`.
fn receiver(
    sink: UdpSocket,
    expect: Vec<u8>,
    epoch: Instant,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Verified> {
    std::thread::spawn(move || {
        let key = AeadKey::new(AeadAlgorithm::Aes128Gcm, &KEY).expect("16-byte key");
        let cipher = DataCipher::Sealed { key, salt: SALT };
        let mut r = Reassembler::new(ReassemblerConfig::new(cipher, 1408, 4096));
        let _ = sink.set_read_timeout(Some(Duration::from_millis(20)));
        let mut buf = vec![0u8; 9216];
        let mut v = Verified::default();
        while !stop.load(Ordering::Relaxed) {
            let Ok(n) = sink.recv(&mut buf) else { continue };
            let _ = r.handle_datagram(&buf[..n]);
            while let Some(f) = r.poll_frame() {
                if f.bytes() == expect.as_slice() {
                    v.intact += 1;
                } else {
                    v.corrupt += 1;
                }
                if f.recovered_shards > 0 {
                    v.recovered += 1;
                }
                let lat = now_ns(epoch).saturating_sub(f.pts_ns) / 1000;
                if v.latencies_us.len() < 1 << 20 {
                    v.latencies_us.push(lat.min(u64::from(u32::MAX)) as u32);
                }
                r.recycle(f);
            }
        }
        r.abandon_all();
        v.lost = r.stats().frames_lost;
        v
    })
}

fn native_sealer() -> NativeSealer {
    let key = AeadKey::new(AeadAlgorithm::Aes128Gcm, &KEY).expect("16-byte key");
    let cipher = DataCipher::Sealed { key, salt: SALT };
    NativeSealer::new(SealerConfig::new(cipher, 1408, 4096)).expect("valid sealer config")
}

/// Datagrams that reached the namespace's UDP layer (InDatagrams + InErrors).
fn udp_in(net: &VethNet) -> u64 {
    let Ok(out) = net.ns.exec(&["cat", "/proc/net/snmp"]) else {
        return 0;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    let names: Vec<&str> = names.split_whitespace().collect();
    let values: Vec<u64> = values
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let get = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .and_then(|i| values.get(i).copied())
            .unwrap_or(0)
    };
    get("InDatagrams") + get("InErrors")
}

struct Row {
    name: String,
    frames_per_s: f64,
    sealed_gbps: f64,
    kpps: f64,
    delivered_kpps: Option<f64>,
    frames_sent: u64,
    verified: Option<Verified>,
    /// Datapath-thread CPU ns per datagram and per frame byte.
    cpu_ns_per_packet: f64,
    cpu_ns_per_byte: f64,
    /// Datagrams the engine gave up on.
    drops: u64,
}

fn run<Q: TxQueue + Send + 'static>(
    name: String,
    q: Q,
    args: &LineRate,
    delivered: Option<&dyn Fn() -> u64>,
    sink: Option<UdpSocket>,
) -> Row {
    let fec = args.fec;
    let mut sealer = native_sealer();
    let epoch = Instant::now();
    let staged = StagedSealer::new(move |f: &Vec<u8>, buf: &mut DatagramBuf| {
        if let Err(e) = sealer.seal_frame(f, now_ns(epoch), 0, fec, buf) {
            tracing::error!("seal: {e}");
        }
    });
    let config = DatapathConfig {
        interval_ns: 0, // unpaced: every chunk at once
        link_bps: 0,
        ..DatapathConfig::default()
    };
    let (mut tx, dp) = pipeline::spawn(q, staged, config).expect("spawn datapath thread");
    let frame: Vec<u8> = (0..args.frame_bytes).map(|i| (i * 7) as u8).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let rx = sink.map(|s| receiver(s, frame.clone(), epoch, stop.clone()));
    let mut spare: Vec<Vec<u8>> = (0..4).map(|_| frame.clone()).collect();
    let mut next_progress = Instant::now() + Duration::from_secs(1);
    let mut submitted = 0u64;
    let d0 = delivered.map(|f| f());
    let start = Instant::now();
    let dur = Duration::from_secs_f64(args.seconds);
    while start.elapsed() < dur {
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!(
                "  {name}: {:.0} s of {:.0}",
                start.elapsed().as_secs_f64(),
                args.seconds
            );
        }
        while let Some(f) = tx.recycled() {
            spare.push(f);
        }
        match spare.pop() {
            Some(f) => match tx.send(f) {
                Ok(()) => submitted += 1,
                Err(f) => {
                    spare.push(f);
                    std::thread::sleep(Duration::from_micros(50));
                }
            },
            None => std::thread::sleep(Duration::from_micros(50)),
        }
    }
    drop(tx);
    let report = dp.report();
    let secs = start.elapsed().as_secs_f64();
    let (q, _) = dp.finish().expect("datapath finished");
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let verified = rx.map(|h| h.join().expect("receiver thread"));
    let frames = report.frames as f64 / secs;
    let st = q.stats();
    Row {
        name: format!("{name} ({})", q.kind()),
        frames_per_s: frames,
        sealed_gbps: frames * args.frame_bytes as f64 * 8.0 / 1e9,
        kpps: st.sent_packets as f64 / secs / 1e3,
        delivered_kpps: delivered
            .zip(d0)
            .map(|(f, d0)| (f() - d0) as f64 / secs / 1e3),
        frames_sent: submitted,
        verified,
        cpu_ns_per_packet: report.cpu_ns as f64 / report.packets.max(1) as f64,
        cpu_ns_per_byte: report.cpu_ns as f64
            / (report.frames.max(1) as f64 * args.frame_bytes as f64),
        drops: st.drops,
    }
}

fn line_rate(args: LineRate) {
    let wanted: Vec<&str> = args.engines.split(',').map(str::trim).collect();
    let mut rows = Vec::new();
    if wanted.contains(&"sim") {
        let rate = (args.sim_gbps * 1e9) as u64;
        let nic = sim::SimNic::new(64, rate).expect("simulated NIC");
        let label = if rate == 0 {
            "simulated NIC, unlimited".to_string()
        } else {
            format!("simulated NIC {} Gbit/s", args.sim_gbps)
        };
        rows.push(run(label, nic, &args, None, None));
    }
    let net = match punktfunk_testnet::available() {
        Ok(()) => Some(VethNet::create().expect("veth test network")),
        Err(why) => {
            eprintln!("veth engines skipped: {why}");
            None
        }
    };
    if let Some(net) = &net {
        let ns_addr = net.ns_addr;
        let sink = net
            .ns
            .run(move || {
                let s = UdpSocket::bind((ns_addr, 0)).expect("bind sink");
                let _ = nix::sys::socket::setsockopt(
                    &s,
                    nix::sys::socket::sockopt::RcvBuf,
                    &(64 << 20),
                );
                s
            })
            .expect("namespace");
        let flow = Flow {
            local: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            remote: sink.local_addr().expect("bound"),
        };
        let delivered = || udp_in(net);
        for (key, cfg) in [
            (
                "xdp",
                EngineConfig {
                    xdp: Some(XdpConfig::default()),
                    ..EngineConfig::default()
                },
            ),
            (
                "uring",
                EngineConfig {
                    uring: Some(UringConfig::default()),
                    ..EngineConfig::default()
                },
            ),
            (
                "mmsg",
                EngineConfig {
                    mmsg: Some(MmsgConfig::default()),
                    ..EngineConfig::default()
                },
            ),
        ] {
            if !wanted.contains(&key) {
                continue;
            }
            match open_engine(&flow, &cfg) {
                Ok(q) => {
                    let rx = (!args.no_verify).then(|| sink.try_clone().expect("clone sink"));
                    rows.push(run(format!("veth {key}"), q, &args, Some(&delivered), rx));
                }
                Err(e) => eprintln!("{key}: unavailable: {e}"),
            }
        }
    }
    if args.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let v = r.verified.as_ref();
                serde_json::json!({
                    "engine": r.name,
                    "frames_per_s": r.frames_per_s,
                    "sealed_gbps": r.sealed_gbps,
                    "sent_kpps": r.kpps,
                    "sender_cpu_ns_per_packet": r.cpu_ns_per_packet,
                    "sender_cpu_ns_per_byte": r.cpu_ns_per_byte,
                    "packets_dropped": r.drops,
                    "delivered_kpps": r.delivered_kpps,
                    "frames_sent": r.frames_sent,
                    "frames_intact": v.map(|v| v.intact),
                    "frames_recovered": v.map(|v| v.recovered),
                    "frames_lost": v.map(|v| v.lost),
                    "frames_corrupt": v.map(|v| v.corrupt),
                    "latency_p50_us": v.and_then(|v| v.percentile(50)),
                    "latency_p99_us": v.and_then(|v| v.percentile(99)),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "frame_bytes": args.frame_bytes,
            "fec_percent": args.fec,
            "seconds_per_engine": args.seconds,
            "rows": rows,
        });
        println!("{doc:#}");
        return;
    }
    println!(
        "\nframes of {} bytes, FEC {} %, AES-128-GCM, S = 1408, unpaced, datapath thread pinned\n",
        args.frame_bytes, args.fec
    );
    println!(
        "| engine | frames/s | sealed Gbit/s (frame bytes) | sent kpps | delivered kpps | sender CPU ns/pkt | ns/byte | dropped | frames intact / sent | recovered | lost | corrupt | latency p50 / p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let dash = || "–".to_string();
        let v = r.verified.as_ref();
        println!(
            "| {} | {:.0} | {:.2} | {:.0} | {} | {:.0} | {:.3} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.frames_per_s,
            r.sealed_gbps,
            r.kpps,
            r.delivered_kpps.map_or_else(dash, |d| format!("{d:.0}")),
            r.cpu_ns_per_packet,
            r.cpu_ns_per_byte,
            r.drops,
            v.map_or_else(dash, |v| format!("{} / {}", v.intact, r.frames_sent)),
            v.map_or_else(dash, |v| v.recovered.to_string()),
            v.map_or_else(dash, |v| v.lost.to_string()),
            v.map_or_else(dash, |v| v.corrupt.to_string()),
            v.and_then(|v| Some(format!("{} / {} µs", v.percentile(50)?, v.percentile(99)?)))
                .unwrap_or_else(dash),
        );
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().cmd {
        Cmd::LineRate(args) => line_rate(args),
    }
}
