//! Reassembler rules of spec §5.3/§5.5: abandonment by pts and frame distance (with
//! wrap-around), late shards, header validation, tampering.

mod common;

use common::*;
use punktfunk_core::native::data::{
    DataCipher, DataHeader, DataHeaderRepr, DatagramError, FrameSealer, HeaderError, Reassembler,
    ReassemblerConfig, flags, replay::ReplayError,
};
use punktfunk_core::slots::DatagramBuf;

const MS: u64 = 1_000_000;

/// Seals `n` AUs of 3000 B (3 data + 1 parity shards at S 1408, 20 %) with the given pts.
fn seal_frames(s: &mut FrameSealer, pts: &[u64]) -> Vec<DatagramBuf> {
    pts.iter()
        .map(|&p| {
            let mut out = DatagramBuf::new();
            let idx = s.next_frame_index();
            s.seal_frame(&test_frame(idx, 3000), p, 5, 20, &mut out)
                .unwrap();
            out
        })
        .collect()
}

#[test]
fn abandoned_after_120ms_of_pts() {
    let mut s = sealer(1408, 4096);
    let frames = seal_frames(&mut s, &[0, 100 * MS, 120 * MS, 121 * MS]);
    let mut r = reassembler(1408, 4096);
    // frame 0 gets only two of its four datagrams (needs three)
    r.handle_datagram(frames[0].get(0).unwrap()).unwrap();
    r.handle_datagram(frames[0].get(1).unwrap()).unwrap();
    for f in &frames[1..3] {
        for dg in f.iter() {
            r.handle_datagram(dg).unwrap();
        }
    }
    // 120 ms behind is not yet "more than 120 ms": frame 0 still pending
    assert_eq!(r.stats().frames_lost, 0);
    assert_eq!(r.pending_frames(), 1);
    r.handle_datagram(frames[3].get(0).unwrap()).unwrap();
    assert_eq!(r.stats().frames_lost, 1);
    // its last datagram now arrives too late: ignored, not restarted
    let late = r.stats().shards_late;
    r.handle_datagram(frames[0].get(2).unwrap()).unwrap();
    assert_eq!(r.stats().shards_late, late + 1);
    assert_eq!(r.pending_frames(), 1, "only frame 3 in progress");
    let got: Vec<u32> = std::iter::from_fn(|| r.poll_frame())
        .map(|f| f.frame_index)
        .collect();
    assert_eq!(got, vec![1, 2]);
}

#[test]
fn abandoned_beyond_64_frames() {
    // (the wrap itself is covered with hand-made headers below)
    let mut s = sealer(1408, 4096);
    let pts: Vec<u64> = (0..66).map(|i| i * MS).collect();
    let sealed_frames = seal_frames(&mut s, &pts);
    let mut r = reassembler(1408, 4096);
    r.handle_datagram(sealed_frames[0].get(0).unwrap()).unwrap();
    r.handle_datagram(sealed_frames[64].get(0).unwrap())
        .unwrap();
    assert_eq!(r.stats().frames_lost, 0, "64 behind is kept");
    r.handle_datagram(sealed_frames[65].get(0).unwrap())
        .unwrap();
    assert_eq!(r.stats().frames_lost, 1, "65 behind is abandoned");
}

/// Plaintext datagrams with hand-set frame indices across the u32 wrap.
#[test]
fn frame_index_compares_across_the_wrap() {
    let mut r = Reassembler::new(ReassemblerConfig::new(DataCipher::Plaintext, 512, 4));
    let mk = |frame_index: u32, shard_index: u16| {
        let repr = DataHeaderRepr {
            pts_ns: 1000,
            frame_index,
            frame_bytes: 1024,
            block_count: 1,
            data_shards: 2,
            recovery_shards: 0,
            shard_index,
            shard_bytes: 512,
            version: 1,
            fec_scheme: 1,
            flags: flags::PIC,
            ..Default::default()
        };
        let mut dg = vec![frame_index as u8; 40 + 512];
        repr.emit(&mut DataHeader::new_checked(&mut dg[..]).unwrap());
        dg
    };
    r.handle_datagram(&mk(u32::MAX - 2, 0)).unwrap();
    r.handle_datagram(&mk(61, 0)).unwrap(); // 64 ahead across the wrap
    assert_eq!(r.stats().frames_lost, 0);
    r.handle_datagram(&mk(62, 0)).unwrap(); // now u32::MAX - 2 is 65 behind
    assert_eq!(r.stats().frames_lost, 1);
    // an index "behind" by half-space is old, not new: ignored as stale
    r.handle_datagram(&mk(62u32.wrapping_sub(100), 0)).unwrap();
    assert_eq!(r.stats().shards_late, 1);
    r.handle_datagram(&mk(61, 1)).unwrap();
    let f = r.poll_frame().unwrap();
    assert_eq!(f.frame_index, 61);
    assert_eq!(f.bytes(), &[61u8; 1024][..]);
}

#[test]
fn tampering_replay_and_bad_lengths_are_typed_errors() {
    let mut s = sealer(1408, 4096);
    let frames = seal_frames(&mut s, &[0]);
    let mut r = reassembler(1408, 4096);
    let d0 = frames[0].get(0).unwrap();
    for at in [0usize, 8, 47, 48, 1455, 1456, 1471] {
        let mut bad = d0.to_vec();
        bad[at] ^= 0x40;
        let e = r.handle_datagram(&bad).unwrap_err();
        // flipping the seq makes it a different nonce: still an authentication failure
        assert_eq!(e, DatagramError::Authentication, "byte {at}");
    }
    assert_eq!(
        r.handle_datagram(&d0[..63]),
        Err(DatagramError::TooShort(63))
    );
    assert_eq!(
        r.handle_datagram(&vec![0u8; 9217]),
        Err(DatagramError::TooLong(9217))
    );
    r.handle_datagram(d0).unwrap();
    assert_eq!(
        r.handle_datagram(d0),
        Err(DatagramError::Replay(ReplayError::Replayed(0)))
    );
    // wrong key: authentication failure
    let mut other = Reassembler::new(ReassemblerConfig::new(
        sealed([9; 16], SPEC_SALT),
        1408,
        4096,
    ));
    assert_eq!(
        other.handle_datagram(d0),
        Err(DatagramError::Authentication)
    );
    // wrong direction bit (a client→host receiver) fails as well
    let mut cfg = ReassemblerConfig::new(sealed(SPEC_KEY, SPEC_SALT), 1408, 4096);
    cfg.direction = punktfunk_core::native::data::Direction::ClientToHost;
    assert_eq!(
        Reassembler::new(cfg).handle_datagram(d0),
        Err(DatagramError::Authentication)
    );
    let st = r.stats();
    assert_eq!(
        (st.datagrams_ok, st.datagrams_bad, st.datagrams_replayed),
        (1, 9, 1)
    );
}

#[test]
fn geometry_violations_are_rejected() {
    let base = DataHeaderRepr {
        pts_ns: 1,
        frame_index: 0,
        frame_bytes: 3000,
        block_count: 1,
        data_shards: 3,
        recovery_shards: 1,
        shard_index: 0,
        shard_bytes: 1408,
        version: 1,
        fec_scheme: 1,
        ..Default::default()
    };
    let send = |h: DataHeaderRepr, len: usize| {
        let mut r = Reassembler::new(ReassemblerConfig::new(DataCipher::Plaintext, 1408, 4096));
        let mut dg = vec![0u8; len];
        h.emit(&mut DataHeader::new_checked(&mut dg[..]).unwrap());
        r.handle_datagram(&dg)
    };
    assert_eq!(send(base, 1448), Ok(()));
    assert_eq!(send(base, 1500), Ok(()), "extra bytes are ignored");
    assert!(matches!(
        send(base, 1447),
        Err(DatagramError::Truncated { .. })
    ));
    assert_eq!(
        send(
            DataHeaderRepr {
                block_count: 0,
                ..base
            },
            1448
        ),
        Err(DatagramError::StreamedAu)
    );
    assert_eq!(
        send(
            DataHeaderRepr {
                shard_bytes: 1407,
                ..base
            },
            1448
        ),
        Err(DatagramError::ShardBytes(1407))
    );
    assert_eq!(
        send(
            DataHeaderRepr {
                shard_bytes: 510,
                ..base
            },
            1448
        ),
        Err(DatagramError::ShardBytes(510))
    );
    assert!(matches!(
        send(
            DataHeaderRepr {
                block_count: 2,
                ..base
            },
            1448
        ),
        Err(DatagramError::Geometry(_))
    ));
    assert!(matches!(
        send(
            DataHeaderRepr {
                data_shards: 2,
                ..base
            },
            1448
        ),
        Err(DatagramError::Geometry(_))
    ));
    assert!(matches!(
        send(
            DataHeaderRepr {
                data_shards: 0,
                ..base
            },
            1448
        ),
        Err(DatagramError::Geometry(_))
    ));
    assert!(matches!(
        send(
            DataHeaderRepr {
                shard_index: 4,
                ..base
            },
            1448
        ),
        Err(DatagramError::Geometry(_))
    ));
    assert!(matches!(
        send(
            DataHeaderRepr {
                recovery_shards: 8000,
                ..base
            },
            1448
        ),
        Err(DatagramError::Geometry(_))
    ));
    assert!(matches!(
        send(
            DataHeaderRepr {
                block_index: 1,
                ..base
            },
            1448
        ),
        Err(DatagramError::Geometry(_))
    ));
    assert_eq!(
        send(
            DataHeaderRepr {
                frame_bytes: 65 << 20,
                ..base
            },
            1448
        ),
        Err(DatagramError::FrameTooLarge(65 << 20))
    );
    let mut dg = vec![0u8; 1448];
    base.emit(&mut DataHeader::new_checked(&mut dg[..]).unwrap());
    dg[36] = 0xC8;
    let mut r = Reassembler::new(ReassemblerConfig::new(DataCipher::Plaintext, 1408, 4096));
    assert_eq!(
        r.handle_datagram(&dg),
        Err(DatagramError::Header(HeaderError::BadMagic(0xC8)))
    );

    // a second datagram of the same frame that disagrees is dropped
    let mut r = Reassembler::new(ReassemblerConfig::new(DataCipher::Plaintext, 1408, 4096));
    let emit = |h: DataHeaderRepr| {
        let mut dg = vec![0u8; 1448];
        h.emit(&mut DataHeader::new_checked(&mut dg[..]).unwrap());
        dg
    };
    r.handle_datagram(&emit(base)).unwrap();
    assert_eq!(
        r.handle_datagram(&emit(DataHeaderRepr {
            shard_index: 1,
            pts_ns: 2,
            ..base
        })),
        Err(DatagramError::Inconsistent(0))
    );
    assert_eq!(
        r.handle_datagram(&emit(DataHeaderRepr {
            shard_index: 1,
            recovery_shards: 2,
            ..base
        })),
        Err(DatagramError::Inconsistent(0))
    );
    assert_eq!(
        r.handle_datagram(&emit(DataHeaderRepr {
            shard_index: 1,
            ..base
        })),
        Ok(())
    );
}

#[test]
fn sink_full_spends_sequence_numbers_and_plan_matches() {
    let mut s = sealer(1408, 4096);
    let mut small = DatagramBuf::with_limit(2);
    let au = test_frame(1, 3000);
    let e = s.seal_frame(&au, 0, 5, 20, &mut small).unwrap_err();
    assert_eq!(
        e,
        punktfunk_core::native::data::SealError::SinkFull {
            written: 2,
            needed: 4
        }
    );
    assert_eq!((s.next_seq(), s.next_frame_index()), (2, 1));
    let mut out = DatagramBuf::new();
    let sealed = s.seal_frame(&au, 0, 5, 20, &mut out).unwrap();
    assert_eq!((sealed.first_seq, sealed.frame_index), (2, 1));
    assert_eq!(out.len(), sealed.plan.datagrams);
    assert!(out.iter().all(|d| d.len() == sealed.plan.datagram_len));
}

#[test]
fn recycled_buffers_are_reused_and_frames_stay_correct() {
    let mut s = sealer(1408, 16);
    let mut r = reassembler(1408, 16);
    let mut out = DatagramBuf::new();
    for i in 0..50u32 {
        let len = [100_000usize, 3000, 0, 40_000][i as usize % 4];
        let au = test_frame(i, len);
        out.clear();
        s.seal_frame(&au, u64::from(i) * 16 * MS, 5, 10, &mut out)
            .unwrap();
        for (n, dg) in out.iter().enumerate() {
            if n != 3 {
                r.handle_datagram(dg).unwrap();
            }
        }
        let f = r.poll_frame().expect("frame");
        assert_eq!(f.frame_index, i);
        assert_eq!(f.bytes(), &au[..]);
        r.recycle(f);
    }
    assert_eq!(r.stats().frames_complete, 50);
}
