//! Host side: Opus packets in, RTP datagrams (data + FEC) out.

use super::packet::{AudioRepr, FEC_HEADER_LEN, MAX_DATAGRAM, RTP_LEN, RtpAudioPacket};
use super::{AudioError, BLOCK_DATA, BLOCK_PARITY, audio_iv};
use crate::crypto::cbc;
use crate::fec::gf8::Gf8Code;
use crate::slots::DatagramSink;

/// Audio key material from `/launch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioKey {
    /// `rikey`.
    pub key: [u8; 16],
    /// `rikeyid` as its u32 bit pattern.
    pub key_id: u32,
}

/// Audio stream parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioConfig {
    /// `x-nv-aqos.packetDuration` in ms (5 or 10).
    pub packet_duration_ms: u32,
    /// Key when audio encryption is on (`encryptionEnabled & 0x04` or `featureFlags & 0x20`).
    pub encryption: Option<AudioKey>,
}

const MAX_PAYLOAD: usize = MAX_DATAGRAM - FEC_HEADER_LEN;

/// The host's audio packetizer: sequence from 0, timestamps in ms from 0, and after every
/// 4th data packet of an aligned block the two FEC packets.
pub struct AudioPacketizer {
    config: AudioConfig,
    seq: u16,
    timestamp: u32,
    code: Gf8Code,
    /// The block's payloads as sent (ciphertext when encrypted), back to back.
    block: [[u8; MAX_PAYLOAD]; BLOCK_DATA],
    lens: [usize; BLOCK_DATA],
    filled: usize,
    base_timestamp: u32,
    parity: [[u8; MAX_PAYLOAD]; BLOCK_PARITY],
}

impl std::fmt::Debug for AudioPacketizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioPacketizer")
            .field("seq", &self.seq)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl AudioPacketizer {
    /// A packetizer at the start of a stream.
    pub fn new(config: AudioConfig) -> Self {
        Self {
            config,
            seq: 0,
            timestamp: 0,
            code: Gf8Code::gamestream_audio(),
            block: [[0; MAX_PAYLOAD]; BLOCK_DATA],
            lens: [0; BLOCK_DATA],
            filled: 0,
            base_timestamp: 0,
            parity: [[0; MAX_PAYLOAD]; BLOCK_PARITY],
        }
    }

    /// Sequence number of the next data packet.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// Sends one Opus packet: its data datagram, then (if it completes a block whose 4
    /// payloads have equal length) the block's two FEC datagrams. Returns datagrams written.
    pub fn packetize<S: DatagramSink + ?Sized>(
        &mut self,
        opus: &[u8],
        sink: &mut S,
    ) -> Result<usize, AudioError> {
        let payload_len = match self.config.encryption {
            Some(_) => cbc::padded_len(opus.len()),
            None => opus.len(),
        };
        if payload_len > MAX_PAYLOAD {
            return Err(AudioError::PayloadTooLarge(opus.len()));
        }
        let seq = self.seq;
        let ts = self.timestamp;
        self.seq = seq.wrapping_add(1);
        self.timestamp = ts.wrapping_add(self.config.packet_duration_ms);
        let slot = (seq % BLOCK_DATA as u16) as usize;
        if slot == 0 {
            self.filled = 0;
            self.base_timestamp = ts;
        }

        let out = sink
            .next_datagram(RTP_LEN + payload_len)
            .ok_or(AudioError::SinkFull)?;
        let mut p = RtpAudioPacket::new_unchecked(&mut *out);
        AudioRepr::Data { seq, timestamp: ts }.emit(&mut p);
        match &self.config.encryption {
            Some(k) => {
                cbc::encrypt(&k.key, &audio_iv(k.key_id, seq), opus, p.payload_mut())?;
            }
            None => p.payload_mut().copy_from_slice(opus),
        }
        self.block[slot][..payload_len].copy_from_slice(&out[RTP_LEN..]);
        self.lens[slot] = payload_len;
        // Count only slots filled in order within this block.
        if self.filled == slot {
            self.filled += 1;
        }
        let mut sent = 1;
        if slot == BLOCK_DATA - 1
            && self.filled == BLOCK_DATA
            && self.lens.iter().all(|&l| l == payload_len)
        {
            let n = payload_len;
            let data: [&[u8]; BLOCK_DATA] = std::array::from_fn(|i| &self.block[i][..n]);
            let [p0, p1] = &mut self.parity;
            self.code.encode(&data, &mut [&mut p0[..n], &mut p1[..n]])?;
            let base_seq = seq.wrapping_sub(BLOCK_DATA as u16 - 1);
            for (i, par) in self.parity.iter().enumerate() {
                let out = sink
                    .next_datagram(FEC_HEADER_LEN + n)
                    .ok_or(AudioError::SinkFull)?;
                let mut p = RtpAudioPacket::new_unchecked(out);
                AudioRepr::Fec {
                    seq: seq.wrapping_add(1 + i as u16),
                    shard_index: i as u8,
                    base_seq,
                    base_timestamp: self.base_timestamp,
                }
                .emit(&mut p);
                p.fec_payload_mut().copy_from_slice(&par[..n]);
                sent += 1;
            }
        }
        Ok(sent)
    }
}
