//! punktfunk-media: capture sources, video encoders, audio capture and Opus, input injection.
//!
//! Capture and encode run on their own threads; encoded frames are handed onward over
//! bounded channels, and nothing here waits on the control plane.
#![warn(missing_docs)]

pub mod audio;
pub mod clock;
pub mod encode;
pub mod frame;
pub mod headless;
pub mod input;
pub mod source;
