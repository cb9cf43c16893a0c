//! punktfunk-core: the sans-IO protocol core.
//!
//! Everything here is pure computation over caller-provided buffers: wire formats of both
//! protocols (GameStream for Moonlight, punktfunk/1 for native clients), Reed-Solomon FEC in
//! GF(2⁸) and GF(2¹⁶), AEAD sealing, reassembly and pacing plans. No sockets, threads or
//! clocks: time is passed in by the I/O layers that drive this crate.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod crypto;
pub mod fec;
pub mod gamestream;
pub mod input;
pub mod native;
pub mod pacing;
pub mod slots;
