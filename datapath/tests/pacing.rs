//! The datapath thread end to end over veth: frames handed over through the SPSC ring, sealed
//! by a caller-supplied sealer into each engine, released on the pacing plan, received intact
//! in the namespace. The achieved spread is measured and reported, not asserted (timing).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_datapath::mmsg::MmsgConfig;
use punktfunk_datapath::pipeline::{self, DatapathConfig, FrameInfo, FrameSealer};
use punktfunk_datapath::uring::UringConfig;
use punktfunk_datapath::xdp::XdpConfig;
use punktfunk_datapath::{DatagramSink, EngineConfig, Flow, TxQueue, open_engine};

const PAYLOAD: usize = 1200;

/// A frame: its number and bytes. Datagram = frame no (4) + packet no (4) + slice of bytes.
struct Frame {
    no: u32,
    bytes: Vec<u8>,
}

struct Chunker;

impl FrameSealer<Frame> for Chunker {
    fn begin_frame(&mut self, f: &Frame) -> FrameInfo {
        FrameInfo {
            packets: f.bytes.len().div_ceil(PAYLOAD) as u32,
            datagram_len: (PAYLOAD + 8) as u32,
        }
    }

    fn seal(&mut self, f: &Frame, first: u32, count: u32, sink: &mut dyn DatagramSink) -> u32 {
        let mut n = 0;
        for i in first..first + count {
            let s = i as usize * PAYLOAD;
            let part = &f.bytes[s..(s + PAYLOAD).min(f.bytes.len())];
            let Some(d) = sink.next_datagram(part.len() + 8) else {
                break;
            };
            d[..4].copy_from_slice(&f.no.to_le_bytes());
            d[4..8].copy_from_slice(&i.to_le_bytes());
            d[8..].copy_from_slice(part);
            n += 1;
        }
        n
    }
}

fn frame_bytes(no: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).wrapping_add(no) as u8)
        .collect()
}

#[test]
fn paced_frames_arrive_intact_through_every_engine() {
    if let Err(why) = punktfunk_testnet::available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let net = punktfunk_testnet::VethNet::create().unwrap();
    const FRAMES: u32 = 20;
    let frame_len = |no: u32| 150_000 + (no as usize * 7777) % 90_000;
    let total_packets: usize = (0..FRAMES).map(|n| frame_len(n).div_ceil(PAYLOAD)).sum();
    for (name, cfg) in [
        (
            "af_xdp",
            EngineConfig {
                xdp: Some(XdpConfig::default()),
                ..EngineConfig::default()
            },
        ),
        (
            "io_uring",
            EngineConfig {
                uring: Some(UringConfig::default()),
                ..EngineConfig::default()
            },
        ),
        (
            "sendmmsg",
            EngineConfig {
                mmsg: Some(MmsgConfig::default()),
                ..EngineConfig::default()
            },
        ),
    ] {
        let missing = (cfg.xdp.is_some() && punktfunk_datapath::xdp::available().is_err())
            || (cfg.uring.is_some() && punktfunk_datapath::uring::available().is_err());
        if missing {
            eprintln!("SKIPPED {name}: unavailable here");
            continue;
        }
        let ns_addr = net.ns_addr;
        // Resolve the neighbour first: a burst during ARP resolution is partly dropped.
        punktfunk_datapath::route::resolve(ns_addr.into(), None, Duration::from_secs(2)).unwrap();
        let rx = net
            .ns
            .run(move || {
                let s = UdpSocket::bind((ns_addr, 0)).unwrap();
                nix::sys::socket::setsockopt(
                    &s,
                    nix::sys::socket::sockopt::RcvBufForce,
                    &(32 << 20),
                )
                .unwrap();
                s.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                s
            })
            .unwrap();
        let flow = Flow {
            local: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            remote: rx.local_addr().unwrap(),
        };
        let engine = open_engine(&flow, &cfg).unwrap();
        let kind = engine.kind();
        let recv = std::thread::spawn(move || {
            let mut got = vec![Vec::<Option<Vec<u8>>>::new(); FRAMES as usize];
            let mut n = 0;
            let mut buf = vec![0u8; 2048];
            let deadline = Instant::now() + Duration::from_secs(10);
            while n < total_packets && Instant::now() < deadline {
                if let Ok(len) = rx.recv(&mut buf) {
                    let f = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
                    let p = u32::from_le_bytes(buf[4..8].try_into().unwrap()) as usize;
                    let v = &mut got[f];
                    if v.len() <= p {
                        v.resize(p + 1, None);
                    }
                    assert!(v[p].is_none(), "duplicate");
                    v[p] = Some(buf[8..len].to_vec());
                    n += 1;
                }
            }
            got
        });
        let interval_ns = 5_000_000;
        let config = DatapathConfig {
            interval_ns,
            link_bps: 1_000_000_000,
            ..DatapathConfig::default()
        };
        let (mut tx, dp) = pipeline::spawn(engine, Chunker, config).unwrap();
        let started = Instant::now();
        for no in 0..FRAMES {
            let mut f = Frame {
                no,
                bytes: frame_bytes(no, frame_len(no)),
            };
            // One frame per interval, as an encoder would.
            let due = started + Duration::from_nanos(interval_ns * u64::from(no));
            while Instant::now() < due {
                std::thread::sleep(Duration::from_micros(200));
            }
            while let Err(back) = tx.send(f) {
                f = back;
                std::thread::sleep(Duration::from_micros(100));
            }
            while tx.recycled().is_some() {}
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while dp.report().frames < u64::from(FRAMES) {
            assert!(Instant::now() < deadline, "datapath stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
        let report = dp.report();
        let (engine, _) = dp.finish().unwrap();
        let got = recv.join().unwrap();
        for no in 0..FRAMES {
            let want = frame_bytes(no, frame_len(no));
            let parts = &got[no as usize];
            let joined: Vec<u8> = parts
                .iter()
                .flat_map(|p| p.as_deref().expect("packet missing"))
                .copied()
                .collect();
            assert_eq!(joined, want, "{name}: frame {no} differs");
        }
        assert_eq!(report.errors, 0);
        assert_eq!(report.packets as usize, total_packets);
        assert!(
            report.planned_spread_ns > 0,
            "frames of ~170 packets are spread"
        );
        eprintln!(
            "{kind}: {FRAMES} frames / {total_packets} packets intact; spread per frame planned {:.2} ms, achieved {:.2} ms (of a {:.1} ms interval); worst release lateness {:.1} µs; pinned {:?}; {:?}",
            report.planned_spread_ns as f64 / f64::from(FRAMES) / 1e6,
            report.achieved_spread_ns as f64 / f64::from(FRAMES) / 1e6,
            interval_ns as f64 / 1e6,
            report.max_lateness_ns as f64 / 1e3,
            report.pinned_core,
            engine.stats()
        );
    }
}
