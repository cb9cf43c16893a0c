use super::*;
use crate::input::{Feedback, MotionSensor};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rikey() -> [u8; 16] {
    std::array::from_fn(|i| i as u8)
}

/// Appendix B.2: host-to-client termination, seq 0, v2 IV "HC".
#[test]
fn b2_termination_vector_byte_exact() {
    let c = ControlCipher::new(&rikey(), IvMode::V2);
    let mut out = [0u8; 64];
    let msg = HostMessage::Termination {
        reason: types::termination::GRACEFUL,
    };
    let n = msg.seal(&c, 0, &mut out).unwrap();
    let want = hex("0100 1c00 00000000 b835a2b8ace857ddcbad385dce166aa9 f2dd4edacf3be801");
    assert_eq!(&out[..n], &want[..]);
    // And the test client opens it back.
    let mut scratch = [0u8; 64];
    let m = c
        .open(Direction::HostToClient, &want, &mut scratch)
        .unwrap();
    assert_eq!(m.msg_type, types::host::TERMINATION);
    assert_eq!(HostMessage::parse(m.msg_type, m.payload).unwrap(), msg);
}

/// Appendix B.2: client-to-host IDR request, seq 0, v2 IV "CC".
#[test]
fn b2_idr_request_vector_byte_exact() {
    let c = ControlCipher::new(&rikey(), IvMode::V2);
    let want = hex("0100 1a00 00000000 22302723537811166cb9bfead7dad457 5cd629f5cafe");
    let mut scratch = [0u8; 64];
    let (seq, msg) = open_client_message(&c, &want, &mut scratch).unwrap();
    assert_eq!(seq, 0);
    assert_eq!(msg, ClientMessage::RequestIdr);
    let mut out = [0u8; 64];
    let n = ClientMessage::RequestIdr.seal(&c, 0, &mut out).unwrap();
    assert_eq!(&out[..n], &want[..]);
    // The host-direction IV must not open a client message.
    assert_eq!(
        c.open(Direction::HostToClient, &want, &mut scratch),
        Err(ControlError::Authentication)
    );
}

/// Appendix B.2: legacy 16-byte IV for seq 0x102 (IV byte 0 = 0x02).
#[test]
fn b2_legacy_iv_vector_byte_exact() {
    let c = ControlCipher::new(&rikey(), IvMode::Legacy);
    let mut out = [0u8; 64];
    let n = c
        .seal(Direction::ClientToHost, 0x102, 0x0302, &[0, 0], &mut out)
        .unwrap();
    assert_eq!(n, 30);
    assert_eq!(&out[8..24], &hex("d3efbb159f8a1ab516a9e738adab436b")[..]);
    assert_eq!(&out[24..30], &hex("73f848fb443f")[..]);
    let mut scratch = [0u8; 64];
    let (seq, msg) = open_client_message(&c, &out[..n], &mut scratch).unwrap();
    assert_eq!((seq, msg), (0x102, ClientMessage::RequestIdr));
}

#[test]
fn framing_rejects_bad_messages() {
    let c = ControlCipher::new(&rikey(), IvMode::V2);
    let mut pkt = [0u8; 64];
    let n = ClientMessage::Ping.seal(&c, 7, &mut pkt).unwrap();
    let mut s = [0u8; 64];
    assert!(open_client_message(&c, &pkt[..n], &mut s).is_ok());
    assert_eq!(
        open_client_message(&c, &pkt[..n - 1], &mut s),
        Err(ControlError::Truncated)
    );
    let mut bad = pkt;
    bad[0] = 2;
    assert_eq!(
        open_client_message(&c, &bad[..n], &mut s),
        Err(ControlError::NotEncrypted(2))
    );
    let mut bad = pkt;
    bad[2] = 23;
    bad[3] = 0;
    assert_eq!(
        open_client_message(&c, &bad[..n], &mut s),
        Err(ControlError::Runt(23))
    );
    let mut bad = pkt;
    bad[n - 1] ^= 1;
    assert_eq!(
        open_client_message(&c, &bad[..n], &mut s),
        Err(ControlError::Authentication)
    );
    let mut small = [0u8; 4];
    assert!(matches!(
        open_client_message(&c, &pkt[..n], &mut small),
        Err(ControlError::BufferTooSmall { .. })
    ));
    // A nested 0x0001 inner type is refused.
    let n2 = c
        .seal(Direction::ClientToHost, 1, types::ENCRYPTED, &[], &mut pkt)
        .unwrap();
    assert_eq!(
        open_client_message(&c, &pkt[..n2], &mut s),
        Err(ControlError::NestedEncrypted)
    );
}

#[test]
fn client_messages_round_trip() {
    let c = ControlCipher::new(&rikey(), IvMode::V2);
    let input = [0u8, 0, 0, 5, 7, 0, 0, 0, 0, 1];
    let msgs = [
        ClientMessage::RequestIdr,
        ClientMessage::StartB,
        ClientMessage::InvalidateRefFrames {
            first: 10,
            last: 0x1_0000_0003,
        },
        ClientMessage::Ping,
        ClientMessage::Input(&input),
        ClientMessage::FrameFecStatus(FrameFecStatus {
            frame_index: 0x01020304,
            highest_received_seq: 5,
            next_contiguous_seq: 6,
            missing_before_highest: 7,
            total_data: 8,
            total_parity: 9,
            received_data: 10,
            received_parity: 11,
            fec_percentage: 20,
            block_index: 1,
            block_count: 2,
        }),
        ClientMessage::LtrFrameAck { frame_index: 99 },
        ClientMessage::LossStats(LossStats {
            interval_ms: 50,
            last_good_frame: 1234,
        }),
        ClientMessage::Unknown {
            msg_type: 0x7777,
            payload: &[1, 2, 3],
        },
    ];
    for (seq, m) in msgs.iter().enumerate() {
        let mut pkt = [0u8; 128];
        let n = m.seal(&c, seq as u32, &mut pkt).unwrap();
        let mut s = [0u8; 128];
        let (got_seq, got) = open_client_message(&c, &pkt[..n], &mut s).unwrap();
        assert_eq!(got_seq, seq as u32);
        assert_eq!(&got, m);
    }
}

#[test]
fn fec_status_is_big_endian() {
    let mut out = [0u8; 21];
    let m = ClientMessage::FrameFecStatus(FrameFecStatus {
        frame_index: 0x0A0B0C0D,
        total_data: 0x0102,
        ..Default::default()
    });
    m.emit_payload(&mut out).unwrap();
    assert_eq!(&out[0..4], &[0x0A, 0x0B, 0x0C, 0x0D]);
    assert_eq!(&out[10..12], &[0x01, 0x02]);
}

#[test]
fn host_messages_round_trip_and_layouts() {
    let c = ControlCipher::new(&rikey(), IvMode::V2);
    let msgs = [
        HostMessage::Termination {
            reason: types::termination::PROTECTED_CONTENT,
        },
        HostMessage::from(Feedback::Rumble {
            index: 3,
            low_freq: 0x1234,
            high_freq: 0xFFFF,
        }),
        HostMessage::HdrMode {
            enabled: true,
            metadata: HdrMetadata {
                primaries: [(34000, 16000), (13250, 34500), (7500, 3000)],
                white_point: (15635, 16450),
                max_display_luminance: 1000,
                min_display_luminance: 50,
                max_content_light_level: 1000,
                max_frame_average_light_level: 400,
                max_full_frame_luminance: 600,
            },
        },
        HostMessage::from(Feedback::TriggerRumble {
            index: 1,
            left: 2,
            right: 3,
        }),
        HostMessage::from(Feedback::MotionEventRate {
            index: 2,
            sensor: MotionSensor::Gyroscope,
            rate_hz: 250,
        }),
        HostMessage::from(Feedback::Led {
            index: 0,
            r: 1,
            g: 2,
            b: 3,
        }),
        HostMessage::from(Feedback::AdaptiveTriggers {
            index: 4,
            event_flags: 0x0C,
            left_type: 1,
            right_type: 2,
            left: [1; 10],
            right: [2; 10],
        }),
    ];
    for (seq, m) in msgs.iter().enumerate() {
        let mut pkt = [0u8; 128];
        let n = m.seal(&c, seq as u32, &mut pkt).unwrap();
        assert_eq!(n, 28 + m.payload_len());
        let mut s = [0u8; 128];
        let got = c.open(Direction::HostToClient, &pkt[..n], &mut s).unwrap();
        assert_eq!(got.payload.len(), m.payload_len());
        assert_eq!(&HostMessage::parse(got.msg_type, got.payload).unwrap(), m);
    }
    // Rumble layout: filler, controller, low, high.
    let mut p = [0u8; 10];
    msgs[1].emit_payload(&mut p).unwrap();
    assert_eq!(p, [0xEE, 0xFF, 0xC0, 0x00, 3, 0, 0x34, 0x12, 0xFF, 0xFF]);
    // HDR: enabled byte then LE16s; the last field sits at 25..27.
    let mut h = [0u8; 27];
    msgs[2].emit_payload(&mut h).unwrap();
    assert_eq!(h[0], 1);
    assert_eq!(&h[1..3], &34000u16.to_le_bytes());
    assert_eq!(&h[25..27], &600u16.to_le_bytes());
    // Motion event: controller, rate, type 2 = gyroscope.
    let mut me = [0u8; 5];
    msgs[4].emit_payload(&mut me).unwrap();
    assert_eq!(me, [2, 0, 250, 0, 2]);
}

#[test]
fn legacy_short_termination_reads_le16() {
    assert_eq!(
        HostMessage::parse(types::host::TERMINATION, &[0x00, 0x01]).unwrap(),
        HostMessage::Termination {
            reason: types::termination::GRACEFUL
        }
    );
    assert!(HostMessage::parse(types::host::TERMINATION, &[1]).is_err());
}

proptest! {
    #[test]
    fn open_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..96), legacy in any::<bool>()) {
        let c = ControlCipher::new(&rikey(), if legacy { IvMode::Legacy } else { IvMode::V2 });
        let mut s = [0u8; 128];
        let _ = open_client_message(&c, &bytes, &mut s);
    }

    #[test]
    fn payload_parsers_never_panic(ty in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = ClientMessage::parse(ty, &payload);
        let _ = HostMessage::parse(ty, &payload);
    }

    #[test]
    fn fuzz_entry_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        fuzz_one(&bytes);
    }
}
