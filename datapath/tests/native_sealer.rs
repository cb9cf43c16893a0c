//! The punktfunk/1 sealer (core `native`) wired into the datapath thread through
//! `StagedSealer`, sending over veth through AF_XDP (or io_uring where AF_XDP is missing):
//! every datagram a second, identically keyed sealer produces for the same frames arrives
//! byte for byte.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_core::crypto::{AeadAlgorithm, AeadKey};
use punktfunk_core::native::data::DataCipher;
use punktfunk_core::native::data::sealer::{FrameSealer as NativeSealer, SealerConfig};
use punktfunk_core::slots::DatagramBuf;
use punktfunk_datapath::pipeline::{self, DatapathConfig, StagedSealer};
use punktfunk_datapath::xdp::XdpConfig;
use punktfunk_datapath::{EngineConfig, Flow, TxQueue, open_engine};

fn sealer() -> NativeSealer {
    let key = AeadKey::new(AeadAlgorithm::Aes128Gcm, &[7u8; 16]).unwrap();
    let cipher = DataCipher::Sealed {
        key,
        salt: [1, 2, 3, 4],
    };
    NativeSealer::new(SealerConfig::new(cipher, 1408, 4096)).unwrap()
}

fn frame(no: u32) -> Vec<u8> {
    let len = 20_000 + (no as usize * 37_813) % 200_000;
    (0..len)
        .map(|i| (i as u32 ^ no.wrapping_mul(0x9e37)) as u8)
        .collect()
}

#[test]
fn sealed_frames_cross_veth_intact() {
    if let Err(why) = punktfunk_testnet::available() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let net = punktfunk_testnet::VethNet::create().unwrap();
    let ns_addr = net.ns_addr;
    // Resolve the neighbour first: a burst during ARP resolution is partly dropped.
    punktfunk_datapath::route::resolve(ns_addr.into(), None, Duration::from_secs(2)).unwrap();
    let rx = net
        .ns
        .run(move || {
            let s = UdpSocket::bind((ns_addr, 0)).unwrap();
            nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::RcvBufForce, &(32 << 20))
                .unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            s
        })
        .unwrap();
    const FRAMES: u32 = 12;
    const FEC_PCT: u8 = 20;
    // The reference: what an identical sealer produces for the same frames.
    let mut reference = Vec::new();
    let mut r = sealer();
    for no in 0..FRAMES {
        let mut buf = DatagramBuf::new();
        r.seal_frame(&frame(no), u64::from(no) * 1000, 0, FEC_PCT, &mut buf)
            .unwrap();
        reference.extend(buf.iter().map(<[u8]>::to_vec));
    }
    let total = reference.len();
    let remote = rx.local_addr().unwrap();
    let recv = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < total && Instant::now() < deadline {
            if let Ok(n) = rx.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
        }
        got
    });
    let flow = Flow {
        local: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        remote,
    };
    let engine = open_engine(
        &flow,
        &EngineConfig {
            xdp: Some(XdpConfig::default()),
            ..EngineConfig::sockets()
        },
    )
    .unwrap();
    let kind = engine.kind();
    let mut native = sealer();
    let mut pts = 0u64;
    let staged = StagedSealer::new(move |f: &Vec<u8>, buf: &mut DatagramBuf| {
        native.seal_frame(f, pts, 0, FEC_PCT, buf).unwrap();
        pts += 1000;
    });
    let config = DatapathConfig {
        interval_ns: 4_000_000,
        link_bps: 2_000_000_000,
        ..DatapathConfig::default()
    };
    let (mut tx, dp) = pipeline::spawn(engine, staged, config).unwrap();
    for no in 0..FRAMES {
        let mut f = frame(no);
        while let Err(back) = tx.send(f) {
            f = back;
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while dp.report().frames < u64::from(FRAMES) {
        assert!(Instant::now() < deadline, "datapath stalled");
        std::thread::sleep(Duration::from_millis(1));
    }
    let report = dp.report();
    let (engine, _) = dp.finish().unwrap();
    let mut got = recv.join().unwrap();
    assert_eq!(report.packets as usize, total);
    assert_eq!(
        got.len(),
        total,
        "{kind}: {} of {total} datagrams",
        got.len()
    );
    got.sort();
    reference.sort();
    assert!(
        got == reference,
        "{kind}: received datagrams differ from the reference sealer's"
    );
    eprintln!(
        "{kind}: {FRAMES} sealed frames, {total} datagrams of {} bytes intact; spread planned {:.2} ms / achieved {:.2} ms per frame; {:?}",
        reference[0].len(),
        report.planned_spread_ns as f64 / f64::from(FRAMES) / 1e6,
        report.achieved_spread_ns as f64 / f64::from(FRAMES) / 1e6,
        engine.stats()
    );
}
