//! GameStream (NVIDIA / Moonlight) wire formats.
//!
//! Sans-IO codecs for what a stock Moonlight client exchanges with the host after RTSP
//! (`gamestream-protocol.md` §5–§8): the video RTP/NV packets with their Reed-Solomon FEC
//! blocks and optional AES-GCM, the audio RTP packets with AES-CBC and 4+2 FEC, the encrypted
//! control-stream messages, the input packets carried inside them, and the RTSP handshake.
pub mod audio;
pub mod control;
pub mod input;
pub mod rtsp;
pub mod video;
