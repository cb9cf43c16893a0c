//! Core's punktfunk/1 frame sealer (§5) behind the data plane's [`VideoSealer`] trait. The
//! Welcome → sealer/reassembler settings live in core (`native::data::welcome`).

use std::rc::Rc;

use punktfunk_core::native::control::handshake::WelcomeRepr;
use punktfunk_core::native::data::{FrameSealer, ReassemblerConfig, SealerConfig};
use punktfunk_core::slots::DatagramBuf;

use crate::native::dataplane::{SealerFactory, VideoSealer};

/// The client's reassembler settings for a Welcome (core's conversion, errors as text).
pub fn reassembler_config(w: &WelcomeRepr) -> Result<ReassemblerConfig, String> {
    ReassemblerConfig::from_welcome(w).map_err(|e| e.to_string())
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
        let cfg = SealerConfig::from_welcome(w).map_err(|e| e.to_string())?;
        let sealer = FrameSealer::new(cfg).map_err(|e| e.to_string())?;
        Ok(Box::new(CoreSealer(sealer)))
    })
}
