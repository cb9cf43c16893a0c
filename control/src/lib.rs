//! punktfunk-control: the control plane.
//!
//! [`gamestream`]: the Moonlight-facing side (nvhttp over HTTP/HTTPS, PIN pairing, app
//! list and launch, the RTSP handshake).
#![warn(missing_docs)]

pub mod gamestream;
