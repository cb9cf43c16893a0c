//! The session sealer: punktfunk/1 frames sealed by core's data-plane sealer.
//!
//! Core's `native::data::FrameSealer` (§5) is written on another branch; until it is merged,
//! [`native_sealer_factory`] reports that the data plane is unavailable, so sessions end at
//! Start with close code 0x68 (setup failed) and a clear reason.

use std::rc::Rc;

use crate::native::dataplane::{SealerFactory, VideoSealer};

/// The factory the host uses for real sessions.
pub fn native_sealer_factory() -> SealerFactory {
    Rc::new(|_welcome| -> Result<Box<dyn VideoSealer>, String> {
        Err("the punktfunk/1 data-plane sealer (core native::data) is not in this build yet".into())
    })
}
