//! punktfunk/1 data plane against the worked example of spec §5.8 (real bytes from
//! punktfunk's own `Session::seal_frame`), cross-checked with RustCrypto's AES-GCM.

mod common;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use common::*;
use punktfunk_core::native::data::{DataHeader, DataHeaderRepr, flags};
use punktfunk_core::slots::DatagramBuf;

/// Opens a datagram with RustCrypto (independent of the sealer's aws-lc-rs) and returns
/// `header ‖ shard`.
fn open_with_rustcrypto(dg: &[u8]) -> Vec<u8> {
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&SPEC_KEY).unwrap();
    let seq: [u8; 8] = dg[..8].try_into().unwrap();
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&[0x21, 0xb2, 0xc3, 0xd4]);
    nonce[4..].copy_from_slice(&seq);
    let (body, tag) = dg[8..].split_at(dg.len() - 8 - 16);
    let mut plain = body.to_vec();
    cipher
        .decrypt_in_place_detached((&nonce).into(), &seq, &mut plain, tag.into())
        .expect("RustCrypto opens our datagram");
    plain
}

fn header_of(plain: &[u8]) -> DataHeaderRepr {
    DataHeaderRepr::parse(&DataHeader::new_checked(plain).unwrap()).unwrap()
}

#[test]
fn worked_example_is_byte_exact() {
    let au = test_frame(7, 3000);
    let mut s = sealer(1408, 4096);
    let mut out = DatagramBuf::new();
    let plan = s.plan(au.len(), 20).unwrap();
    assert_eq!(
        (plan.datagrams, plan.datagram_len, plan.blocks),
        (4, 1472, 1)
    );
    let sealed = s.seal_frame(&au, SPEC_PTS, 5, 20, &mut out).unwrap();
    assert_eq!(
        (sealed.frame_index, sealed.first_seq, sealed.plan),
        (0, 0, plan)
    );
    assert_eq!(out.len(), 4);

    let d0 = out.get(0).unwrap();
    assert_eq!(d0.len(), 1472);
    assert_eq!(&d0[..8], &hex("0000000000000000")[..]);
    assert_eq!(
        &d0[8..48],
        &hex("5f3db25b26cfd5d44541bccbd9c6d9fd034b82ff63fca08431114431dcf8965c9bb9df137b13edcc")[..]
    );
    assert_eq!(&d0[1456..], &hex("55eb7748216dcc304233062d06f5e3b7")[..]);
    let plain = open_with_rustcrypto(d0);
    assert_eq!(
        &plain[..40],
        &hex(
            "15cd853dfe9c9717 00000000 00000000 b80b0000 05000000 0000 0100 0300 0100 0000 8005 c9 01 01 05"
        )[..]
    );
    assert_eq!(&plain[40..48], &hex("070000000b0c0d0e")[..]);
    assert_eq!(&plain[40..], &au[..1408]);

    // Datagrams 1–3: seq and stream_seq 1–3, shards 1, 2 (data, PIC) and 3 (parity, PIC|EOF).
    let mut data = vec![au[..1408].to_vec()];
    for i in 1..4 {
        let dg = out.get(i).unwrap();
        assert_eq!(u64::from_be_bytes(dg[..8].try_into().unwrap()), i as u64);
        let plain = open_with_rustcrypto(dg);
        let h = header_of(&plain);
        assert_eq!((h.stream_seq, h.shard_index), (i as u32, i as u16));
        assert_eq!((h.data_shards, h.recovery_shards, h.block_count), (3, 1, 1));
        let want_flags = if i == 3 {
            flags::PIC | flags::EOF
        } else {
            flags::PIC
        };
        assert_eq!(h.flags, want_flags);
        if i < 3 {
            data.push(plain[40..].to_vec());
        } else {
            let parity = reed_solomon_simd::encode(3, 1, &data).unwrap();
            assert_eq!(
                &plain[40..],
                &parity[0][..],
                "parity from reed-solomon-simd directly"
            );
        }
    }
    // shard 2: 184 bytes of AU, then 1224 zero bytes
    assert_eq!(&data[2][..184], &au[2816..]);
    assert!(data[2][184..].iter().all(|&b| b == 0));
}

#[test]
fn two_blocks_go_data_first_then_parity() {
    let au = test_frame(7, 3000);
    let mut s = sealer(1408, 2);
    let mut out = DatagramBuf::new();
    s.seal_frame(&au, SPEC_PTS, 5, 20, &mut out).unwrap();
    let got: Vec<(u16, u16, u16, u16, u8)> = out
        .iter()
        .map(|dg| {
            let h = header_of(&open_with_rustcrypto(dg));
            (
                h.block_index,
                h.shard_index,
                h.data_shards,
                h.recovery_shards,
                h.flags,
            )
        })
        .collect();
    let (p, sof, eof) = (flags::PIC, flags::SOF, flags::EOF);
    assert_eq!(
        got,
        vec![
            (0, 0, 2, 1, p | sof), // d0
            (0, 1, 2, 1, p),       // d1
            (1, 0, 1, 1, p),       // d2
            (0, 2, 2, 1, p),       // p0
            (1, 1, 1, 1, p | eof), // p1
        ]
    );
    // k = 1: the single parity shard equals the data shard (§5.4 observation)
    let d2 = open_with_rustcrypto(out.get(2).unwrap());
    let p1 = open_with_rustcrypto(out.get(4).unwrap());
    assert_eq!(&d2[40..], &p1[40..]);
}

#[test]
fn worked_example_reassembles_with_datagram_1_dropped() {
    for k in [4096, 2] {
        let au = test_frame(7, 3000);
        let mut s = sealer(1408, k);
        let mut out = DatagramBuf::new();
        s.seal_frame(&au, SPEC_PTS, 5, 20, &mut out).unwrap();
        let mut r = reassembler(1408, k);
        for (i, dg) in out.iter().enumerate() {
            if i != 1 {
                r.handle_datagram(dg).unwrap();
            }
        }
        let f = r.poll_frame().expect("AU rebuilt");
        assert_eq!(f.bytes(), &au[..]);
        assert_eq!(
            (f.frame_index, f.pts_ns, f.user_flags, f.recovered_shards),
            (0, SPEC_PTS, 5, 1)
        );
        let st = r.stats();
        assert_eq!(
            (st.shards_recovered, st.frames_complete, st.frames_recovered),
            (1, 1, 1)
        );
        assert_eq!(st.datagrams_ok, out.len() as u64 - 1);
        assert!(r.poll_frame().is_none());
    }
}

/// Across AUs: seq and stream_seq run on per datagram, frame_index per AU; SOF marks each
/// AU's first datagram and EOF its last; every packet has PIC; header fields match §5.2.
#[test]
fn counters_and_flags_across_frames() {
    let mut s = sealer(1408, 8);
    let mut out = DatagramBuf::new();
    let lens = [0usize, 1, 1408, 1409, 20_000, 3000];
    let mut expect_seq = 0u64;
    for (n, &len) in lens.iter().enumerate() {
        out.clear();
        let au = test_frame(n as u32, len);
        let sealed = s.seal_frame(&au, 1000 + n as u64, 5, 30, &mut out).unwrap();
        assert_eq!(sealed.frame_index, n as u32);
        assert_eq!(sealed.first_seq, expect_seq);
        let last = out.len() - 1;
        for (i, dg) in out.iter().enumerate() {
            assert_eq!(u64::from_be_bytes(dg[..8].try_into().unwrap()), expect_seq);
            let h = header_of(&open_with_rustcrypto(dg));
            assert_eq!(u64::from(h.stream_seq), expect_seq);
            assert_eq!(
                (h.frame_index, h.pts_ns, h.user_flags),
                (n as u32, 1000 + n as u64, 5)
            );
            assert_eq!(
                (
                    h.frame_bytes as usize,
                    h.shard_bytes,
                    h.version,
                    h.fec_scheme
                ),
                (len, 1408, 1, 1)
            );
            let mut want = flags::PIC;
            if i == 0 {
                want |= flags::SOF;
            }
            if i == last {
                want |= flags::EOF;
            }
            assert_eq!(h.flags, want, "frame {n} datagram {i}");
            expect_seq += 1;
        }
    }
}

/// The §4.3 Welcome example's data-plane fields, through `from_welcome`, seal §5.8's bytes
/// and reassemble them; ChaCha20-Poly1305 (cipher 1) round-trips; unknown values are errors.
#[test]
fn configs_from_the_welcome() {
    use punktfunk_core::native::control::Mode;
    use punktfunk_core::native::control::handshake::WelcomeRepr;
    use punktfunk_core::native::data::{
        FrameSealer, Reassembler, ReassemblerConfig, SealerConfig, WelcomeError,
    };
    let mut w = WelcomeRepr::new(40000, Mode::new(1280, 720, 60), SPEC_KEY, SPEC_SALT);
    w.fec_percent = 20;
    let au = test_frame(7, 3000);
    let mut s = FrameSealer::new(SealerConfig::from_welcome(&w).unwrap()).unwrap();
    let mut out = DatagramBuf::new();
    s.seal_frame(&au, SPEC_PTS, 5, w.fec_percent, &mut out)
        .unwrap();
    assert_eq!(
        &out.get(0).unwrap()[1456..],
        &hex("55eb7748216dcc304233062d06f5e3b7")[..]
    );
    let rc = ReassemblerConfig::from_welcome(&w).unwrap();
    assert_eq!(rc.max_frame_bytes, 64 << 20, "bitrate 0 → 64 MiB");
    let mut r = Reassembler::new(rc);
    for dg in out.iter().skip(1) {
        r.handle_datagram(dg).unwrap();
    }
    assert_eq!(r.poll_frame().unwrap().bytes(), &au[..]);

    w.cipher = 1;
    w.chacha_key = [0x33; 32];
    let mut s = FrameSealer::new(SealerConfig::from_welcome(&w).unwrap()).unwrap();
    let mut r = Reassembler::new(ReassemblerConfig::from_welcome(&w).unwrap());
    out.clear();
    s.seal_frame(&au, SPEC_PTS, 5, 20, &mut out).unwrap();
    assert_ne!(
        &out.get(0).unwrap()[1456..],
        &hex("55eb7748216dcc304233062d06f5e3b7")[..]
    );
    for dg in out.iter().skip(1) {
        r.handle_datagram(dg).unwrap();
    }
    assert_eq!(r.poll_frame().unwrap().bytes(), &au[..]);

    w.cipher = 2;
    assert_eq!(
        SealerConfig::from_welcome(&w).unwrap_err(),
        WelcomeError::UnknownCipher(2)
    );
    w.cipher = 0;
    w.fec_scheme = 7;
    assert_eq!(
        ReassemblerConfig::from_welcome(&w).unwrap_err(),
        WelcomeError::UnknownFecScheme(7)
    );
}
