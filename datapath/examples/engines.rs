//! Side-by-side throughput of every transmit engine over a veth pair into a test namespace.
//!
//! `cargo run --release -p punktfunk-datapath --example engines -- --seconds 3 --size 1400`
//!
//! For each engine: send datagrams of `--size` bytes as fast as the engine goes for
//! `--seconds`, then report what the engine handed over (sent) and what crossed the veth pair
//! (datagrams reaching the namespace's UDP layer). A UDP socket is bound in the namespace (not read) so
//! packets are not answered with ICMP. Prints a Markdown table with ratios vs sendmmsg.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use clap::Parser;
use punktfunk_datapath::mmsg::MmsgConfig;
use punktfunk_datapath::uring::UringConfig;
use punktfunk_datapath::xdp::{XdpConfig, ZeroCopy};
use punktfunk_datapath::{DatagramSink, EngineConfig, Flow, TxBatch, TxQueue, open_engine};
use punktfunk_testnet::VethNet;

#[derive(Parser)]
struct Args {
    /// Seconds per engine.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// UDP payload bytes per datagram.
    #[arg(long, default_value_t = 1400)]
    size: usize,
}

/// Datagrams that reached the namespace's UDP layer: `InDatagrams + InErrors` of
/// `/proc/net/snmp` (InErrors counts the socket-buffer overflows: the sink is not read).
/// Interface packet counters would count a GSO super-packet once.
fn udp_in(net: &VethNet) -> u64 {
    let out = net
        .ns
        .exec(&["cat", "/proc/net/snmp"])
        .expect("read /proc/net/snmp");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next().unwrap().split_whitespace().collect();
    let values: Vec<u64> = udp
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let get = |n: &str| values[names.iter().position(|x| *x == n).unwrap() - 1];
    get("InDatagrams") + get("InErrors")
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    if let Err(why) = punktfunk_testnet::available() {
        eprintln!("cannot build a test network: {why}");
        std::process::exit(1);
    }
    let net = VethNet::create().expect("veth test network");
    let ns_addr = net.ns_addr;
    let sink = net
        .ns
        .run(move || UdpSocket::bind((ns_addr, 0)).unwrap())
        .unwrap();
    let remote = sink.local_addr().unwrap();
    let flow = Flow {
        local: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        remote,
    };
    let size = args.size;
    let cases: Vec<(&str, EngineConfig)> = vec![
        (
            "sendmmsg ×64",
            EngineConfig {
                mmsg: Some(MmsgConfig::default()),
                ..EngineConfig::default()
            },
        ),
        (
            "io_uring sendmsg ×256, no GSO",
            EngineConfig {
                uring: Some(UringConfig {
                    gso: false,
                    ..UringConfig::default()
                }),
                ..EngineConfig::default()
            },
        ),
        (
            "io_uring sendmsg + UDP GSO",
            EngineConfig {
                uring: Some(UringConfig::default()),
                ..EngineConfig::default()
            },
        ),
        (
            "AF_XDP (copy on veth) ×64",
            EngineConfig {
                xdp: Some(XdpConfig {
                    zero_copy: ZeroCopy::Try,
                    ..XdpConfig::default()
                }),
                ..EngineConfig::default()
            },
        ),
    ];
    let mut rows = Vec::new();
    let mut payload = vec![0u8; size];
    for (i, b) in payload.iter_mut().enumerate() {
        *b = i as u8;
    }
    for (name, cfg) in cases {
        let mut q = match open_engine(&flow, &cfg) {
            Ok(q) => q,
            Err(e) => {
                eprintln!("{name}: unavailable: {e}");
                continue;
            }
        };
        let kind = q.kind();
        let limit = q.batch_limit();
        let rx0 = udp_in(&net);
        let start = Instant::now();
        let dur = Duration::from_secs_f64(args.seconds);
        let mut seq = 0u64;
        while start.elapsed() < dur {
            let mut b = q.batch(limit).unwrap();
            while let Some(d) = b.next_datagram(size) {
                d.copy_from_slice(&payload);
                d[..8].copy_from_slice(&seq.to_le_bytes());
                seq += 1;
            }
            b.commit().unwrap();
        }
        q.flush().unwrap();
        let secs = start.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(100));
        let delivered = udp_in(&net) - rx0;
        let st = q.stats();
        rows.push((
            name,
            kind,
            st.sent_packets as f64 / secs,
            delivered as f64 / secs,
            st.syscalls,
            st.retries,
        ));
    }
    let base = rows
        .iter()
        .find(|r| r.0.starts_with("sendmmsg"))
        .map(|r| r.3)
        .unwrap_or(1.0);
    println!(
        "\n| engine | kind | sent kpps | delivered kpps | delivered Gbit/s (payload) | vs sendmmsg | syscalls | retries |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, kind, sent, delivered, sys, retries) in rows {
        println!(
            "| {name} | {kind} | {:.0} | {:.0} | {:.2} | {:.2}× | {sys} | {retries} |",
            sent / 1e3,
            delivered / 1e3,
            delivered * size as f64 * 8.0 / 1e9,
            delivered / base
        );
    }
}
