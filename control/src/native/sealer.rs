//! Core's punktfunk/1 frame sealer (§5) behind the data plane's [`VideoSealer`] trait, and the
//! matching receiver configuration for clients.

use std::rc::Rc;

use punktfunk_core::crypto::aead::{AeadAlgorithm, AeadKey};
use punktfunk_core::native::control::handshake::{
    CIPHER_AES128_GCM, CIPHER_CHACHA20_POLY1305, WelcomeRepr,
};
use punktfunk_core::native::data::{
    DataCipher, FecScheme, FrameSealer, ReassemblerConfig, SealerConfig,
};
use punktfunk_core::slots::DatagramBuf;

use crate::native::dataplane::{SealerFactory, VideoSealer};

/// The data-plane cipher a Welcome describes.
pub fn cipher_for(w: &WelcomeRepr) -> Result<DataCipher, String> {
    if !w.encrypt {
        return Ok(DataCipher::Plaintext);
    }
    let key = match w.cipher {
        CIPHER_AES128_GCM => AeadKey::aes128_gcm(&w.key),
        CIPHER_CHACHA20_POLY1305 => AeadKey::new(AeadAlgorithm::ChaCha20Poly1305, &w.chacha_key)
            .map_err(|e| e.to_string())?,
        other => return Err(format!("unknown cipher {other}")),
    };
    Ok(DataCipher::Sealed { key, salt: w.salt })
}

fn scheme(w: &WelcomeRepr) -> Result<FecScheme, String> {
    FecScheme::from_wire(w.fec_scheme).ok_or_else(|| format!("unknown FEC scheme {}", w.fec_scheme))
}

/// The client's reassembler settings for a Welcome (max frame size per §4.3).
pub fn reassembler_config(w: &WelcomeRepr) -> Result<ReassemblerConfig, String> {
    let mut c = ReassemblerConfig::new(
        cipher_for(w)?,
        w.shard_payload as usize,
        w.max_data_per_block as usize,
    );
    c.fec_scheme = scheme(w)?;
    if w.bitrate_kbps > 0 {
        let per_frame =
            (w.bitrate_kbps as usize).saturating_mul(125) / w.mode.refresh_hz.max(1) as usize;
        c.max_frame_bytes = per_frame.saturating_mul(4).clamp(8 << 20, 64 << 20);
    }
    Ok(c)
}

struct CoreSealer(FrameSealer);

impl VideoSealer for CoreSealer {
    fn seal(
        &mut self,
        au: &[u8],
        pts_ns: u64,
        user_flags: u32,
        fec_pct: u8,
        out: &mut DatagramBuf,
    ) -> Result<usize, String> {
        self.0
            .seal_frame(au, pts_ns, user_flags, fec_pct, out)
            .map(|f| f.plan.datagrams)
            .map_err(|e| e.to_string())
    }
}

/// The factory the host uses for real sessions: core's `FrameSealer` keyed from the Welcome.
pub fn native_sealer_factory() -> SealerFactory {
    Rc::new(|w: &WelcomeRepr| -> Result<Box<dyn VideoSealer>, String> {
        let mut cfg = SealerConfig::new(
            cipher_for(w)?,
            w.shard_payload as usize,
            w.max_data_per_block as usize,
        );
        cfg.fec_scheme = scheme(w)?;
        let sealer = FrameSealer::new(cfg).map_err(|e| e.to_string())?;
        Ok(Box::new(CoreSealer(sealer)))
    })
}
