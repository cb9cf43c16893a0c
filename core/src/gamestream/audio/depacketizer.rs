//! Test-client side: audio datagrams in, Opus packets out, with 4 + 2 FEC recovery.

use super::packet::{AudioRepr, MAX_DATAGRAM, RTP_LEN, RtpAudioPacket};
use super::packetizer::AudioConfig;
use super::{AudioError, BLOCK_DATA, BLOCK_PARITY, audio_iv};
use crate::crypto::cbc;
use crate::fec::gf8::Gf8Code;

const MAX_PAYLOAD: usize = MAX_DATAGRAM - RTP_LEN;

/// What the audio depacketizer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioEvent<'a> {
    /// An Opus packet (decrypted when encryption is on).
    Packet {
        /// Sequence number.
        seq: u16,
        /// Timestamp in ms.
        timestamp: u32,
        /// The Opus bytes.
        opus: &'a [u8],
        /// True when rebuilt by FEC.
        recovered: bool,
    },
    /// The data packet `seq` of a finished block never arrived and could not be rebuilt.
    Lost {
        /// Sequence number.
        seq: u16,
    },
}

/// Reassembles the audio stream.
pub struct AudioDepacketizer {
    config: AudioConfig,
    code: Gf8Code,
    base: Option<u16>,
    base_ts: Option<u32>,
    shards: [[u8; MAX_PAYLOAD]; BLOCK_DATA + BLOCK_PARITY],
    lens: [usize; BLOCK_DATA + BLOCK_PARITY],
    present: [bool; BLOCK_DATA + BLOCK_PARITY],
    plain: [u8; MAX_PAYLOAD],
    recovered_total: u64,
}

impl std::fmt::Debug for AudioDepacketizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDepacketizer")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl AudioDepacketizer {
    /// A depacketizer for `config`.
    pub fn new(config: AudioConfig) -> Self {
        Self {
            config,
            code: Gf8Code::gamestream_audio(),
            base: None,
            base_ts: None,
            shards: [[0; MAX_PAYLOAD]; BLOCK_DATA + BLOCK_PARITY],
            lens: [0; BLOCK_DATA + BLOCK_PARITY],
            present: [false; BLOCK_DATA + BLOCK_PARITY],
            plain: [0; MAX_PAYLOAD],
            recovered_total: 0,
        }
    }

    /// Data packets rebuilt by FEC so far.
    pub fn recovered(&self) -> u64 {
        self.recovered_total
    }

    /// Handles one datagram.
    pub fn handle_datagram(
        &mut self,
        dgram: &[u8],
        mut emit: impl FnMut(AudioEvent<'_>),
    ) -> Result<(), AudioError> {
        if dgram.len() > MAX_DATAGRAM {
            return Err(AudioError::PayloadTooLarge(dgram.len()));
        }
        let p = RtpAudioPacket::new_checked(dgram)?;
        let repr = AudioRepr::parse(&p)?;
        let (base, slot, payload) = match repr {
            AudioRepr::Data { seq, .. } => (seq & !3, (seq & 3) as usize, p.payload()),
            AudioRepr::Fec {
                base_seq,
                shard_index,
                ..
            } => (base_seq, BLOCK_DATA + shard_index as usize, p.fec_payload()),
        };
        if let Some(cur) = self.base
            && base != cur
        {
            if (base.wrapping_sub(cur) as i16) < 0 {
                return Ok(()); // an older block
            }
            self.finish_block(&mut emit);
        }
        if self.base != Some(base) {
            self.base = Some(base);
            self.base_ts = None;
            self.present = [false; BLOCK_DATA + BLOCK_PARITY];
        }
        if self.present[slot] {
            return Ok(());
        }
        self.shards[slot][..payload.len()].copy_from_slice(payload);
        self.lens[slot] = payload.len();
        self.present[slot] = true;
        match repr {
            AudioRepr::Data { seq, timestamp } => {
                if slot == 0 {
                    self.base_ts = Some(timestamp);
                }
                self.deliver(seq, timestamp, slot, false, &mut emit)?;
            }
            AudioRepr::Fec { base_timestamp, .. } => self.base_ts = Some(base_timestamp),
        }
        self.try_recover(&mut emit)
    }

    /// Finishes the block in progress (end of stream), reporting its missing packets.
    pub fn flush(&mut self, mut emit: impl FnMut(AudioEvent<'_>)) {
        self.finish_block(&mut emit);
        self.base = None;
    }

    fn finish_block(&mut self, emit: &mut impl FnMut(AudioEvent<'_>)) {
        let Some(base) = self.base else { return };
        for i in 0..BLOCK_DATA {
            if !self.present[i] {
                emit(AudioEvent::Lost {
                    seq: base.wrapping_add(i as u16),
                });
            }
        }
        self.present = [true; BLOCK_DATA + BLOCK_PARITY];
    }

    fn deliver(
        &mut self,
        seq: u16,
        timestamp: u32,
        slot: usize,
        recovered: bool,
        emit: &mut impl FnMut(AudioEvent<'_>),
    ) -> Result<(), AudioError> {
        let payload = &self.shards[slot][..self.lens[slot]];
        let opus = match &self.config.encryption {
            Some(k) => {
                let n = cbc::decrypt(&k.key, &audio_iv(k.key_id, seq), payload, &mut self.plain)?;
                &self.plain[..n]
            }
            None => payload,
        };
        emit(AudioEvent::Packet {
            seq,
            timestamp,
            opus,
            recovered,
        });
        Ok(())
    }

    fn try_recover(&mut self, emit: &mut impl FnMut(AudioEvent<'_>)) -> Result<(), AudioError> {
        let missing = (0..BLOCK_DATA).filter(|&i| !self.present[i]).count();
        let have = self.present.iter().filter(|&&p| p).count();
        if missing == 0 || have < BLOCK_DATA {
            return Ok(());
        }
        let (Some(base), Some(base_ts)) = (self.base, self.base_ts) else {
            return Ok(());
        };
        let n = (0..self.present.len())
            .find(|&i| self.present[i])
            .map(|i| self.lens[i])
            .unwrap_or(0);
        if (0..self.present.len()).any(|i| self.present[i] && self.lens[i] != n) {
            return Ok(()); // unequal lengths: no FEC for this block
        }
        let present = self.present;
        {
            let mut refs: [&mut [u8]; BLOCK_DATA + BLOCK_PARITY] = {
                let mut it = self.shards.iter_mut();
                std::array::from_fn(|_| &mut it.next().expect("6 shards")[..n])
            };
            self.code.reconstruct(&mut refs, &present)?;
        }
        for (i, &was_present) in present.iter().enumerate().take(BLOCK_DATA) {
            if !was_present {
                self.present[i] = true;
                self.lens[i] = n;
                self.recovered_total += 1;
                let seq = base.wrapping_add(i as u16);
                let ts = base_ts.wrapping_add(i as u32 * self.config.packet_duration_ms);
                self.deliver(seq, ts, i, true, emit)?;
            }
        }
        Ok(())
    }
}

/// Runs arbitrary bytes through fresh depacketizers (fuzz and property-test entry point).
pub fn fuzz_datagrams(data: &[u8]) {
    for encryption in [
        None,
        Some(super::AudioKey {
            key: [1; 16],
            key_id: 7,
        }),
    ] {
        let mut dp = AudioDepacketizer::new(AudioConfig {
            packet_duration_ms: 5,
            encryption,
        });
        let _ = dp.handle_datagram(data, |_| {});
        for chunk in data.chunks(40) {
            let _ = dp.handle_datagram(chunk, |_| {});
        }
        dp.flush(|_| {});
    }
}
