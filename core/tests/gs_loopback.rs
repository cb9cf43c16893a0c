//! GameStream media over real UDP on loopback: the host packetizers send through a socket,
//! the test client's depacketizers reassemble what arrives. Loopback does not drop, so the
//! test drops datagrams itself (within the FEC budget) to exercise recovery end to end.

use std::net::UdpSocket;
use std::time::Duration;

use punktfunk_core::gamestream::audio::{
    AudioConfig, AudioDepacketizer, AudioEvent, AudioKey, AudioPacketizer,
};
use punktfunk_core::gamestream::video::{
    FrameType, VideoConfig, VideoDepacketizer, VideoEvent, VideoPacketizer,
};
use punktfunk_core::slots::DatagramBuf;

fn pair() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (tx, rx)
}

#[test]
fn video_frames_cross_loopback_with_fec_recovery() {
    let config = VideoConfig {
        packet_size: 1360,
        fec_percentage: 20,
        min_required_fec_packets: 2,
        encryption_key: Some([0x42; 16]),
    };
    let (tx, rx) = pair();
    let mut pk = VideoPacketizer::new(config).unwrap();
    let mut dp = VideoDepacketizer::new(config).unwrap();
    let mut sink = DatagramBuf::new();
    let mut buf = vec![0u8; 4096];
    let frames: Vec<Vec<u8>> = (0..8)
        .map(|f| {
            (0..20_000 + f * 3_001)
                .map(|i| (i * 13 + f) as u8)
                .collect()
        })
        .collect();
    let mut got = Vec::new();
    for (f, frame) in frames.iter().enumerate() {
        sink.clear();
        let st = pk
            .packetize(
                frame,
                if f == 0 { FrameType::Idr } else { FrameType::P },
                f as u32 * 1500,
                0,
                &mut sink,
            )
            .unwrap();
        // Drop the first two data shards of every frame: 2 <= parity (>= 2 per block).
        assert!(st.parity_shards >= 2 && st.blocks == 1);
        let mut sent = 0;
        for d in sink.iter().skip(2) {
            tx.send(d).unwrap();
            sent += 1;
        }
        for _ in 0..sent {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(n, config.datagram_len());
            dp.handle_datagram(&buf[..n], |e| match e {
                VideoEvent::Frame(fr) => {
                    got.push((fr.frame_index, fr.recovered_shards, fr.data.to_vec()))
                }
                other => panic!("unexpected {other:?}"),
            })
            .unwrap();
        }
    }
    assert_eq!(got.len(), frames.len());
    for (i, (fi, recovered, data)) in got.iter().enumerate() {
        assert_eq!(*fi, i as u32 + 1);
        assert_eq!(*recovered, 2);
        assert_eq!(data, &frames[i]);
    }
    assert_eq!(dp.stats().recovered_shards, 2 * frames.len() as u64);
}

#[test]
fn audio_packets_cross_loopback_with_fec_recovery() {
    let config = AudioConfig {
        packet_duration_ms: 5,
        encryption: Some(AudioKey {
            key: [9; 16],
            key_id: 1234,
        }),
    };
    let (tx, rx) = pair();
    let mut pk = AudioPacketizer::new(config);
    let mut dp = AudioDepacketizer::new(config);
    let mut sink = DatagramBuf::new();
    let packets: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; 60]).collect();
    for p in &packets {
        pk.packetize(p, &mut sink).unwrap();
    }
    // Every block is 4 data + 2 FEC; drop data packet (block % 4) of each block.
    let mut buf = vec![0u8; 2048];
    let mut got = Vec::new();
    for (i, d) in sink.iter().enumerate() {
        if i % 6 == (i / 6) % 4 {
            continue;
        }
        tx.send(d).unwrap();
        let n = rx.recv(&mut buf).unwrap();
        dp.handle_datagram(&buf[..n], |e| match e {
            AudioEvent::Packet {
                seq,
                timestamp,
                opus,
                ..
            } => got.push((seq, timestamp, opus.to_vec())),
            AudioEvent::Lost { seq } => panic!("lost {seq}"),
        })
        .unwrap();
    }
    got.sort_by_key(|g| g.0);
    assert_eq!(got.len(), packets.len());
    for (i, (seq, ts, opus)) in got.iter().enumerate() {
        assert_eq!((*seq as usize, *ts as usize), (i, i * 5));
        assert_eq!(opus, &packets[i]);
    }
    assert_eq!(dp.recovered(), 10);
}
