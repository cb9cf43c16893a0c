//! The typed control message catalogue: `PKFc ‖ type ‖ body` (§2.5), pairing included (§3.2).

use super::wire::{Reader, Wire, WireError, Writer};
use super::{MAGIC_TYPED, Mode};

/// Message type bytes (§2.5).
pub mod ty {
    /// Reconfigure (C→H).
    pub const RECONFIGURE: u8 = 0x01;
    /// Reconfigured (H→C).
    pub const RECONFIGURED: u8 = 0x02;
    /// RequestKeyframe (C→H).
    pub const REQUEST_KEYFRAME: u8 = 0x03;
    /// LossReport (C→H).
    pub const LOSS_REPORT: u8 = 0x04;
    /// SetBitrate (C→H).
    pub const SET_BITRATE: u8 = 0x05;
    /// BitrateChanged (H→C).
    pub const BITRATE_CHANGED: u8 = 0x06;
    /// RfiRequest (C→H).
    pub const RFI_REQUEST: u8 = 0x07;
    /// ShardPayloadChanged (H→C).
    pub const SHARD_PAYLOAD_CHANGED: u8 = 0x08;
    /// ShardPayloadAck (C→H).
    pub const SHARD_PAYLOAD_ACK: u8 = 0x09;
    /// PipelineGap (H→C).
    pub const PIPELINE_GAP: u8 = 0x0A;
    /// PairRequest (C→H).
    pub const PAIR_REQUEST: u8 = 0x10;
    /// PairChallenge (H→C).
    pub const PAIR_CHALLENGE: u8 = 0x11;
    /// PairProof (C→H).
    pub const PAIR_PROOF: u8 = 0x12;
    /// PairResult (H→C).
    pub const PAIR_RESULT: u8 = 0x13;
    /// ProbeRequest (C→H).
    pub const PROBE_REQUEST: u8 = 0x20;
    /// ProbeResult (H→C).
    pub const PROBE_RESULT: u8 = 0x21;
    /// ClockProbe (C→H).
    pub const CLOCK_PROBE: u8 = 0x30;
    /// ClockEcho (H→C).
    pub const CLOCK_ECHO: u8 = 0x31;
    /// PhaseReport (C→H).
    pub const PHASE_REPORT: u8 = 0x32;
    /// CursorRenderMode (C→H).
    pub const CURSOR_RENDER_MODE: u8 = 0x51;
    /// AccessUpdate (H→C).
    pub const ACCESS_UPDATE: u8 = 0x58;
}

/// Bytes of `PKFc ‖ type`.
pub const TYPED_HEADER_LEN: usize = 5;
/// SPAKE2 message length (side byte + 32-byte point).
pub const SPAKE_MSG_LEN: usize = 33;
/// Longest device name in a PairRequest.
pub const MAX_PAIR_NAME_LEN: usize = 64;

/// One typed control message. Messages this crate does not model (clipboard, cursor shape,
/// unknown types) parse as [`Message::Other`] so the caller can ignore them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// 0x01: client asks for a new mode.
    Reconfigure {
        /// Requested mode.
        mode: Mode,
    },
    /// 0x02: host answers a Reconfigure.
    Reconfigured {
        /// Whether the request was accepted.
        accepted: bool,
        /// The mode now active.
        mode: Mode,
    },
    /// 0x03: next AU should be an IDR.
    RequestKeyframe,
    /// 0x04: windowed loss in parts per million.
    LossReport {
        /// Loss estimate, ppm.
        loss_ppm: u32,
    },
    /// 0x05: client ABR asks for a bitrate (0 = host default).
    SetBitrate {
        /// kbps.
        kbps: u32,
    },
    /// 0x06: host reports the applied bitrate.
    BitrateChanged {
        /// kbps.
        kbps: u32,
    },
    /// 0x07: reference-frame invalidation request for a lost frame range.
    RfiRequest {
        /// First lost frame index.
        first_frame: u32,
        /// Last lost frame index.
        last_frame: u32,
    },
    /// 0x08: host proposes a new shard payload.
    ShardPayloadChanged {
        /// Shard payload bytes.
        shard_payload: u16,
    },
    /// 0x09: client acknowledges a shard payload.
    ShardPayloadAck {
        /// Shard payload bytes.
        shard_payload: u16,
    },
    /// 0x0A: host pipeline gap.
    PipelineGap {
        /// Gap in ms.
        gap_ms: u32,
    },
    /// 0x10: pairing start (client = SPAKE2 side A). Trailing bytes (newer clients) ignored.
    PairRequest {
        /// Device name (≤ 64 bytes UTF-8).
        name: &'a str,
        /// SPAKE2 message A.
        spake: &'a [u8],
    },
    /// 0x11: host SPAKE2 message B and host confirmation tag.
    PairChallenge {
        /// SPAKE2 message B.
        spake: &'a [u8],
        /// HMAC confirmation tag of the host.
        confirm: [u8; 32],
    },
    /// 0x12: client confirmation tag.
    PairProof {
        /// HMAC confirmation tag of the client.
        confirm: [u8; 32],
    },
    /// 0x13: pairing outcome.
    PairResult {
        /// Whether the client is now paired.
        ok: bool,
    },
    /// 0x20: capacity probe request.
    ProbeRequest {
        /// Target rate, kbps.
        target_kbps: u32,
        /// Duration, ms.
        duration_ms: u32,
    },
    /// 0x21: capacity probe result (all zero = declined).
    ProbeResult {
        /// Bytes sent.
        bytes_sent: u64,
        /// Packets sent.
        packets: u32,
        /// Duration, ms.
        duration_ms: u32,
        /// `(wire_packets_sent, send_dropped)`, absent in the 21-byte form.
        wire: Option<(u32, u32)>,
    },
    /// 0x30: clock probe, client send time.
    ClockProbe {
        /// Client realtime ns.
        t1_ns: u64,
    },
    /// 0x31: clock echo.
    ClockEcho {
        /// Echoed client time.
        t1_ns: u64,
        /// Host receive time (realtime ns).
        t2_ns: u64,
        /// Host send time (realtime ns).
        t3_ns: u64,
    },
    /// 0x32: client display phase report.
    PhaseReport {
        /// Latch time, ns.
        latch_ns: u64,
        /// Period.
        period: u32,
        /// Uncertainty.
        uncertainty: u32,
        /// Lead.
        lead: u32,
        /// Coherence (27-byte form only).
        coherence: Option<u16>,
    },
    /// 0x51: whether the client draws the cursor.
    CursorRenderMode {
        /// Client draws the cursor.
        client_draws: bool,
    },
    /// 0x58: access grants update.
    AccessUpdate {
        /// Grant mask.
        grants: u32,
        /// Remaining seconds.
        remaining_secs: u32,
    },
    /// Any other type (clipboard, cursor shape, future messages): the raw body.
    Other {
        /// Message type.
        ty: u8,
        /// Body after the type byte.
        body: &'a [u8],
    },
}

impl<'a> Message<'a> {
    /// The type byte.
    pub fn ty(&self) -> u8 {
        use Message::*;
        match self {
            Reconfigure { .. } => ty::RECONFIGURE,
            Reconfigured { .. } => ty::RECONFIGURED,
            RequestKeyframe => ty::REQUEST_KEYFRAME,
            LossReport { .. } => ty::LOSS_REPORT,
            SetBitrate { .. } => ty::SET_BITRATE,
            BitrateChanged { .. } => ty::BITRATE_CHANGED,
            RfiRequest { .. } => ty::RFI_REQUEST,
            ShardPayloadChanged { .. } => ty::SHARD_PAYLOAD_CHANGED,
            ShardPayloadAck { .. } => ty::SHARD_PAYLOAD_ACK,
            PipelineGap { .. } => ty::PIPELINE_GAP,
            PairRequest { .. } => ty::PAIR_REQUEST,
            PairChallenge { .. } => ty::PAIR_CHALLENGE,
            PairProof { .. } => ty::PAIR_PROOF,
            PairResult { .. } => ty::PAIR_RESULT,
            ProbeRequest { .. } => ty::PROBE_REQUEST,
            ProbeResult { .. } => ty::PROBE_RESULT,
            ClockProbe { .. } => ty::CLOCK_PROBE,
            ClockEcho { .. } => ty::CLOCK_ECHO,
            PhaseReport { .. } => ty::PHASE_REPORT,
            CursorRenderMode { .. } => ty::CURSOR_RENDER_MODE,
            AccessUpdate { .. } => ty::ACCESS_UPDATE,
            Other { ty, .. } => *ty,
        }
    }

    /// True when `buf` starts with the typed-message magic `PKFc`.
    pub fn is_typed(buf: &[u8]) -> bool {
        buf.len() >= 4 && buf[..4] == MAGIC_TYPED
    }

    /// Parses one typed message payload (without the frame prefix).
    pub fn parse(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        if r.array::<4>()? != MAGIC_TYPED {
            return Err(WireError::BadMagic);
        }
        let t = r.u8()?;
        let len = buf.len();
        let exact = |n: usize| {
            if len == n {
                Ok(())
            } else {
                Err(WireError::BadLength { ty: t, len })
            }
        };
        let mode = |r: &mut Reader<'a>| -> Result<Mode, WireError> {
            Ok(Mode::new(r.u32()?, r.u32()?, r.u32()?))
        };
        let m = match t {
            ty::RECONFIGURE => {
                exact(17)?;
                Message::Reconfigure {
                    mode: mode(&mut r)?,
                }
            }
            ty::RECONFIGURED => {
                exact(18)?;
                Message::Reconfigured {
                    accepted: r.u8()? != 0,
                    mode: mode(&mut r)?,
                }
            }
            ty::REQUEST_KEYFRAME => {
                exact(5)?;
                Message::RequestKeyframe
            }
            ty::LOSS_REPORT => {
                exact(9)?;
                Message::LossReport { loss_ppm: r.u32()? }
            }
            ty::SET_BITRATE => {
                exact(9)?;
                Message::SetBitrate { kbps: r.u32()? }
            }
            ty::BITRATE_CHANGED => {
                exact(9)?;
                Message::BitrateChanged { kbps: r.u32()? }
            }
            ty::RFI_REQUEST => {
                exact(13)?;
                Message::RfiRequest {
                    first_frame: r.u32()?,
                    last_frame: r.u32()?,
                }
            }
            ty::SHARD_PAYLOAD_CHANGED => {
                exact(7)?;
                Message::ShardPayloadChanged {
                    shard_payload: r.u16()?,
                }
            }
            ty::SHARD_PAYLOAD_ACK => {
                exact(7)?;
                Message::ShardPayloadAck {
                    shard_payload: r.u16()?,
                }
            }
            ty::PIPELINE_GAP => {
                exact(9)?;
                Message::PipelineGap { gap_ms: r.u32()? }
            }
            ty::PAIR_REQUEST => {
                let name = r.str8("name", MAX_PAIR_NAME_LEN)?;
                let n = r.u16()? as usize;
                Message::PairRequest {
                    name,
                    spake: r.bytes(n)?,
                }
            }
            ty::PAIR_CHALLENGE => {
                let n = r.u16()? as usize;
                let spake = r.bytes(n)?;
                Message::PairChallenge {
                    spake,
                    confirm: r.array()?,
                }
            }
            ty::PAIR_PROOF => Message::PairProof {
                confirm: r.array()?,
            },
            ty::PAIR_RESULT => Message::PairResult { ok: r.u8()? != 0 },
            ty::PROBE_REQUEST => {
                exact(13)?;
                Message::ProbeRequest {
                    target_kbps: r.u32()?,
                    duration_ms: r.u32()?,
                }
            }
            ty::PROBE_RESULT => {
                if len != 21 && len != 29 {
                    return Err(WireError::BadLength { ty: t, len });
                }
                let bytes_sent = r.u64()?;
                let packets = r.u32()?;
                let duration_ms = r.u32()?;
                let wire = if r.is_empty() {
                    None
                } else {
                    Some((r.u32()?, r.u32()?))
                };
                Message::ProbeResult {
                    bytes_sent,
                    packets,
                    duration_ms,
                    wire,
                }
            }
            ty::CLOCK_PROBE => {
                exact(13)?;
                Message::ClockProbe { t1_ns: r.u64()? }
            }
            ty::CLOCK_ECHO => {
                exact(29)?;
                Message::ClockEcho {
                    t1_ns: r.u64()?,
                    t2_ns: r.u64()?,
                    t3_ns: r.u64()?,
                }
            }
            ty::PHASE_REPORT => {
                if len != 25 && len != 27 {
                    return Err(WireError::BadLength { ty: t, len });
                }
                let latch_ns = r.u64()?;
                let period = r.u32()?;
                let uncertainty = r.u32()?;
                let lead = r.u32()?;
                let coherence = if r.is_empty() { None } else { Some(r.u16()?) };
                Message::PhaseReport {
                    latch_ns,
                    period,
                    uncertainty,
                    lead,
                    coherence,
                }
            }
            ty::CURSOR_RENDER_MODE => {
                exact(6)?;
                Message::CursorRenderMode {
                    client_draws: r.u8()? != 0,
                }
            }
            ty::ACCESS_UPDATE => {
                exact(13)?;
                Message::AccessUpdate {
                    grants: r.u32()?,
                    remaining_secs: r.u32()?,
                }
            }
            other => Message::Other {
                ty: other,
                body: r.rest(),
            },
        };
        Ok(m)
    }
}

impl Wire for Message<'_> {
    fn buffer_len(&self) -> usize {
        use Message::*;
        TYPED_HEADER_LEN
            + match self {
                Reconfigure { .. } => 12,
                Reconfigured { .. } => 13,
                RequestKeyframe => 0,
                LossReport { .. }
                | SetBitrate { .. }
                | BitrateChanged { .. }
                | PipelineGap { .. } => 4,
                RfiRequest { .. } | ProbeRequest { .. } | AccessUpdate { .. } => 8,
                ShardPayloadChanged { .. } | ShardPayloadAck { .. } => 2,
                PairRequest { name, spake } => 1 + name.len() + 2 + spake.len(),
                PairChallenge { spake, .. } => 2 + spake.len() + 32,
                PairProof { .. } => 32,
                PairResult { .. } | CursorRenderMode { .. } => 1,
                ProbeResult { wire, .. } => 16 + if wire.is_some() { 8 } else { 0 },
                ClockProbe { .. } => 8,
                ClockEcho { .. } => 24,
                PhaseReport { coherence, .. } => 20 + if coherence.is_some() { 2 } else { 0 },
                Other { body, .. } => body.len(),
            }
    }

    fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        use Message::*;
        match self {
            PairRequest { name, .. } if name.len() > MAX_PAIR_NAME_LEN => {
                return Err(WireError::TooLong {
                    field: "name",
                    len: name.len(),
                    max: MAX_PAIR_NAME_LEN,
                });
            }
            PairRequest { spake, .. } | PairChallenge { spake, .. }
                if spake.len() > u16::MAX as usize =>
            {
                return Err(WireError::TooLong {
                    field: "spake",
                    len: spake.len(),
                    max: u16::MAX as usize,
                });
            }
            _ => {}
        }
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.bytes(&MAGIC_TYPED);
        w.u8(self.ty());
        let put_mode = |w: &mut Writer<'_>, m: &Mode| {
            w.u32(m.width);
            w.u32(m.height);
            w.u32(m.refresh_hz);
        };
        match self {
            Reconfigure { mode } => put_mode(&mut w, mode),
            Reconfigured { accepted, mode } => {
                w.u8(*accepted as u8);
                put_mode(&mut w, mode);
            }
            RequestKeyframe => {}
            LossReport { loss_ppm: v }
            | SetBitrate { kbps: v }
            | BitrateChanged { kbps: v }
            | PipelineGap { gap_ms: v } => w.u32(*v),
            RfiRequest {
                first_frame: a,
                last_frame: b,
            }
            | ProbeRequest {
                target_kbps: a,
                duration_ms: b,
            }
            | AccessUpdate {
                grants: a,
                remaining_secs: b,
            } => {
                w.u32(*a);
                w.u32(*b);
            }
            ShardPayloadChanged { shard_payload } | ShardPayloadAck { shard_payload } => {
                w.u16(*shard_payload)
            }
            PairRequest { name, spake } => {
                w.str8(name);
                w.u16(spake.len() as u16);
                w.bytes(spake);
            }
            PairChallenge { spake, confirm } => {
                w.u16(spake.len() as u16);
                w.bytes(spake);
                w.bytes(confirm);
            }
            PairProof { confirm } => w.bytes(confirm),
            PairResult { ok: b } | CursorRenderMode { client_draws: b } => w.u8(*b as u8),
            ProbeResult {
                bytes_sent,
                packets,
                duration_ms,
                wire,
            } => {
                w.u64(*bytes_sent);
                w.u32(*packets);
                w.u32(*duration_ms);
                if let Some((a, b)) = wire {
                    w.u32(*a);
                    w.u32(*b);
                }
            }
            ClockProbe { t1_ns } => w.u64(*t1_ns),
            ClockEcho {
                t1_ns,
                t2_ns,
                t3_ns,
            } => {
                w.u64(*t1_ns);
                w.u64(*t2_ns);
                w.u64(*t3_ns);
            }
            PhaseReport {
                latch_ns,
                period,
                uncertainty,
                lead,
                coherence,
            } => {
                w.u64(*latch_ns);
                w.u32(*period);
                w.u32(*uncertainty);
                w.u32(*lead);
                if let Some(c) = coherence {
                    w.u16(*c);
                }
            }
            Other { body, .. } => w.bytes(body),
        }
        Ok(w.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(m: Message<'_>) -> Vec<u8> {
        let mut buf = vec![0u8; m.buffer_len()];
        let n = m.emit(&mut buf).unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(Message::parse(&buf).unwrap(), m);
        buf
    }

    #[test]
    fn sizes_match_the_catalogue() {
        let spake = [0x41u8; 33];
        let cases: [(Message<'_>, usize); 19] = [
            (
                Message::Reconfigure {
                    mode: Mode::new(1, 2, 3),
                },
                17,
            ),
            (
                Message::Reconfigured {
                    accepted: true,
                    mode: Mode::new(1, 2, 3),
                },
                18,
            ),
            (Message::RequestKeyframe, 5),
            (Message::LossReport { loss_ppm: 7 }, 9),
            (Message::SetBitrate { kbps: 7 }, 9),
            (Message::BitrateChanged { kbps: 7 }, 9),
            (
                Message::RfiRequest {
                    first_frame: 1,
                    last_frame: 2,
                },
                13,
            ),
            (
                Message::ShardPayloadChanged {
                    shard_payload: 9152,
                },
                7,
            ),
            (Message::PipelineGap { gap_ms: 3 }, 9),
            (
                Message::PairRequest {
                    name: "abc",
                    spake: &spake,
                },
                8 + 3 + 33,
            ),
            (
                Message::PairChallenge {
                    spake: &spake,
                    confirm: [1; 32],
                },
                72,
            ),
            (Message::PairProof { confirm: [2; 32] }, 37),
            (Message::PairResult { ok: true }, 6),
            (
                Message::ProbeRequest {
                    target_kbps: 1,
                    duration_ms: 2,
                },
                13,
            ),
            (
                Message::ProbeResult {
                    bytes_sent: 1,
                    packets: 2,
                    duration_ms: 3,
                    wire: Some((4, 5)),
                },
                29,
            ),
            (
                Message::ProbeResult {
                    bytes_sent: 1,
                    packets: 2,
                    duration_ms: 3,
                    wire: None,
                },
                21,
            ),
            (Message::ClockProbe { t1_ns: 99 }, 13),
            (
                Message::ClockEcho {
                    t1_ns: 1,
                    t2_ns: 2,
                    t3_ns: 3,
                },
                29,
            ),
            (
                Message::AccessUpdate {
                    grants: 1,
                    remaining_secs: 2,
                },
                13,
            ),
        ];
        for (m, len) in cases {
            assert_eq!(round_trip(m).len(), len, "{m:?}");
        }
    }

    #[test]
    fn exact_bytes_of_clock_echo() {
        let b = round_trip(Message::ClockEcho {
            t1_ns: 1,
            t2_ns: 0x0203,
            t3_ns: u64::MAX,
        });
        assert_eq!(&b[..5], b"PKFc\x31");
        assert_eq!(&b[5..13], &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[13..21], &[3, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[21..29], &[0xff; 8]);
    }

    #[test]
    fn wrong_lengths_and_unknown_types() {
        assert_eq!(
            Message::parse(b"PKFc\x03\x00"),
            Err(WireError::BadLength { ty: 3, len: 6 })
        );
        assert_eq!(
            Message::parse(b"PKFc\x04\x00"),
            Err(WireError::BadLength { ty: 4, len: 6 })
        );
        assert_eq!(Message::parse(b"PKF1\x03"), Err(WireError::BadMagic));
        assert_eq!(
            Message::parse(b"PKFc\x77xyz").unwrap(),
            Message::Other {
                ty: 0x77,
                body: b"xyz"
            }
        );
        // PairRequest with a name longer than 64 bytes.
        let mut long = b"PKFc\x10".to_vec();
        long.push(65);
        long.extend_from_slice(&[b'a'; 65]);
        long.extend_from_slice(&[0, 0]);
        assert!(matches!(
            Message::parse(&long),
            Err(WireError::TooLong { .. })
        ));
    }

    #[test]
    fn phase_report_both_lengths() {
        round_trip(Message::PhaseReport {
            latch_ns: 1,
            period: 2,
            uncertainty: 3,
            lead: 4,
            coherence: None,
        });
        round_trip(Message::PhaseReport {
            latch_ns: 1,
            period: 2,
            uncertainty: 3,
            lead: 4,
            coherence: Some(5),
        });
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Message::parse(&data);
            let mut typed = b"PKFc".to_vec();
            typed.extend_from_slice(&data);
            if let Ok(m) = Message::parse(&typed) {
                let mut buf = vec![0u8; m.buffer_len()];
                m.emit(&mut buf).unwrap();
                prop_assert_eq!(Message::parse(&buf).unwrap(), m);
            }
        }
    }
}
