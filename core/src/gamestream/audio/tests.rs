use super::depacketizer::fuzz_datagrams;
use super::packet::{FEC_HEADER_LEN, PT_FEC, RTP_LEN};
use super::*;
use crate::slots::DatagramBuf;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Appendix B.1 audio vector through the packetizer: payloads 10.., 20.., 30.., 40..
/// give FEC payloads 98 99 9a 9b and da db d8 d9, with the §7.5 FEC header.
#[test]
fn b1_audio_fec_vector_through_the_packetizer() {
    let mut pk = AudioPacketizer::new(AudioConfig {
        packet_duration_ms: 5,
        encryption: None,
    });
    let mut sink = DatagramBuf::new();
    let data = [
        hex("10111213"),
        hex("20212223"),
        hex("30313233"),
        hex("40414243"),
    ];
    let sent: usize = data
        .iter()
        .map(|d| pk.packetize(d, &mut sink).unwrap())
        .sum();
    assert_eq!(sent, 6);
    for (i, d) in data.iter().enumerate() {
        let g = sink.get(i).unwrap();
        assert_eq!(
            &g[..12],
            &[0x80, 97, 0, i as u8, 0, 0, 0, 5 * i as u8, 0, 0, 0, 0]
        );
        assert_eq!(&g[12..], &d[..]);
    }
    let f0 = sink.get(4).unwrap();
    let f1 = sink.get(5).unwrap();
    // RTP: 0x80, PT 127, seq = last data seq + 1 + index, ts 0, ssrc 0.
    assert_eq!(&f0[..12], &[0x80, 127, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&f1[..4], &[0x80, 127, 0, 5]);
    // FEC header: index, PT 97, base seq 0, base ts 0, ssrc 0.
    assert_eq!(&f0[12..24], &[0, 97, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(f1[12], 1);
    assert_eq!(&f0[24..], &hex("98999a9b")[..]);
    assert_eq!(&f1[24..], &hex("dadbd8d9")[..]);
    // Second block: base seq 4, base timestamp 20.
    sink.clear();
    for d in &data {
        pk.packetize(d, &mut sink).unwrap();
    }
    let f = sink.get(4).unwrap();
    assert_eq!(&f[14..20], &[0, 4, 0, 0, 0, 20]);
}

/// Appendix B.2 audio crypto: rikeyid 0x12345678, sequence 1.
#[test]
fn b2_audio_encryption_vector() {
    let key = AudioKey {
        key: std::array::from_fn(|i| i as u8),
        key_id: 0x1234_5678,
    };
    assert_eq!(audio_iv(key.key_id, 1), {
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&hex("12345679"));
        iv
    });
    let mut pk = AudioPacketizer::new(AudioConfig {
        packet_duration_ms: 5,
        encryption: Some(key),
    });
    let mut sink = DatagramBuf::new();
    let opus = hex("fcfffe01020304050607");
    pk.packetize(&opus, &mut sink).unwrap(); // seq 0
    pk.packetize(&opus, &mut sink).unwrap(); // seq 1
    let g = sink.get(1).unwrap();
    assert_eq!(&g[..4], &[0x80, 97, 0, 1]);
    assert_eq!(&g[12..], &hex("4782a67924df115fd99272f6c77c318f")[..]);
}

#[test]
fn unequal_lengths_skip_fec_for_that_block() {
    let mut pk = AudioPacketizer::new(AudioConfig {
        packet_duration_ms: 10,
        encryption: None,
    });
    let mut sink = DatagramBuf::new();
    for len in [10, 10, 11, 10] {
        pk.packetize(&vec![1; len], &mut sink).unwrap();
    }
    assert_eq!(sink.len(), 4);
    for _ in 0..4 {
        pk.packetize(&[2; 10], &mut sink).unwrap();
    }
    assert_eq!(sink.len(), 10);
    assert_eq!(sink.get(8).unwrap()[1], PT_FEC);
}

/// (seq, timestamp, opus, recovered) of each delivered packet.
type Delivered = Vec<(u16, u32, Vec<u8>, bool)>;

fn run(
    encrypted: bool,
    packets: &[Vec<u8>],
    drop: impl Fn(usize, &[u8]) -> bool,
) -> (Delivered, Vec<u16>) {
    let config = AudioConfig {
        packet_duration_ms: 5,
        encryption: encrypted.then_some(AudioKey {
            key: [4; 16],
            key_id: 0xFFFF_FFF0,
        }),
    };
    let mut pk = AudioPacketizer::new(config);
    let mut dp = AudioDepacketizer::new(config);
    let mut sink = DatagramBuf::new();
    for p in packets {
        pk.packetize(p, &mut sink).unwrap();
    }
    let (mut got, mut lost) = (Vec::new(), Vec::new());
    for (i, d) in sink.iter().enumerate() {
        if drop(i, d) {
            continue;
        }
        dp.handle_datagram(d, |e| match e {
            AudioEvent::Packet {
                seq,
                timestamp,
                opus,
                recovered,
            } => got.push((seq, timestamp, opus.to_vec(), recovered)),
            AudioEvent::Lost { seq } => lost.push(seq),
        })
        .unwrap();
    }
    dp.flush(|e| {
        if let AudioEvent::Lost { seq } = e {
            lost.push(seq)
        }
    });
    got.sort_by_key(|g| g.0);
    (got, lost)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Up to two losses per 6-packet group: every Opus packet comes back, with the
    /// timestamps the client would rebuild.
    #[test]
    fn two_losses_per_block_are_recovered(encrypted in any::<bool>(), blocks in 1usize..6, len in 1usize..300, drops in proptest::collection::vec((0usize..6, 0usize..6), 6)) {
        let packets: Vec<Vec<u8>> = (0..blocks * 4).map(|i| (0..len).map(|j| (i * 31 + j) as u8).collect()).collect();
        let (got, lost) = run(encrypted, &packets, |i, _| {
            let (b, k) = (i / 6, i % 6);
            drops.get(b).is_some_and(|&(x, y)| k == x || k == y)
        });
        prop_assert!(lost.is_empty(), "lost {:?}", lost);
        prop_assert_eq!(got.len(), packets.len());
        for (i, (seq, ts, opus, _)) in got.iter().enumerate() {
            prop_assert_eq!(*seq as usize, i);
            prop_assert_eq!(*ts as usize, i * 5);
            prop_assert_eq!(opus, &packets[i]);
        }
    }

    /// Three losses in a block: the missing data packets are reported lost, nothing wrong
    /// is delivered.
    #[test]
    fn three_losses_report_loss(encrypted in any::<bool>(), a in 0usize..4, len in 1usize..100) {
        let packets: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8; len]).collect();
        let (got, lost) = run(encrypted, &packets, |i, _| i == a || i == 4 || i == 5);
        prop_assert_eq!(lost, vec![a as u16]);
        prop_assert_eq!(got.len(), 7);
        for (seq, _, opus, _) in &got {
            prop_assert_eq!(opus, &packets[*seq as usize]);
        }
    }

    #[test]
    fn depacketizer_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        fuzz_datagrams(&bytes);
    }
}

#[test]
fn headers_parse_and_reject() {
    assert_eq!(
        AudioRepr::parse(&RtpAudioPacket::new_unchecked(&[0x80u8, 97, 0][..])),
        Err(AudioError::Truncated)
    );
    let mut fec = [0u8; FEC_HEADER_LEN];
    AudioRepr::Fec {
        seq: 9,
        shard_index: 1,
        base_seq: 4,
        base_timestamp: 20,
    }
    .emit(&mut RtpAudioPacket::new_unchecked(&mut fec[..]));
    assert_eq!(
        AudioRepr::parse(&RtpAudioPacket::new_checked(&fec[..]).unwrap()).unwrap(),
        AudioRepr::Fec {
            seq: 9,
            shard_index: 1,
            base_seq: 4,
            base_timestamp: 20
        }
    );
    fec[15] = 5; // base seq not a multiple of 4
    assert!(AudioRepr::parse(&RtpAudioPacket::new_unchecked(&fec[..])).is_err());
    let data = [0x80u8, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        AudioRepr::parse(&RtpAudioPacket::new_unchecked(&data[..])),
        Err(AudioError::InvalidField("payload type"))
    );
    assert_eq!(RTP_LEN, 12);
}
