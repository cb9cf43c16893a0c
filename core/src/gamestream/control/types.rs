//! Control-stream message types (`gamestream-protocol.md` §5.3), the one home of these numbers.
//!
//! Type numbers are direction-specific: `0x5502` is "frame FEC status" from the client and
//! "RGB LED" from the host, so the two directions have separate modules.

/// Outer type of every encrypted control message (§5.2); never valid as an inner type.
pub const ENCRYPTED: u16 = 0x0001;

/// Message types the client sends to the host.
pub mod client {
    /// Request an IDR frame (also "start A"); payload `00 00`.
    pub const REQUEST_IDR_FRAME: u16 = 0x0302;
    /// Start B; payload `00`.
    pub const START_B: u16 = 0x0307;
    /// Invalidate reference frames (RFI): LE64 first, LE64 last, LE64 0.
    pub const INVALIDATE_REF_FRAMES: u16 = 0x0301;
    /// Periodic ping, every 100 ms.
    pub const PERIODIC_PING: u16 = 0x0200;
    /// One input packet (§8).
    pub const INPUT_DATA: u16 = 0x0206;
    /// Per-frame FEC status (Sunshine extension, big-endian fields).
    pub const FRAME_FEC_STATUS: u16 = 0x5502;
    /// Long-term-reference frame acknowledgement.
    pub const LTR_FRAME_ACK: u16 = 0x0350;
    /// Loss statistics (older hosts only).
    pub const LOSS_STATS: u16 = 0x0201;
    /// Frame statistics (unused by current clients).
    pub const FRAME_STATS: u16 = 0x0204;
}

/// Message types the host sends to the client.
pub mod host {
    /// Termination with a BE32 reason.
    pub const TERMINATION: u16 = 0x0109;
    /// Rumble motors of one controller.
    pub const RUMBLE: u16 = 0x010b;
    /// HDR mode and mastering metadata.
    pub const HDR_MODE: u16 = 0x010e;
    /// Trigger rumble (Sunshine extension).
    pub const RUMBLE_TRIGGERS: u16 = 0x5500;
    /// Set motion-event report rate (Sunshine extension).
    pub const SET_MOTION_EVENT: u16 = 0x5501;
    /// Set RGB LED (Sunshine extension).
    pub const SET_RGB_LED: u16 = 0x5502;
    /// DualSense adaptive triggers (Sunshine extension).
    pub const SET_ADAPTIVE_TRIGGERS: u16 = 0x5503;
}

/// Termination reasons (HRESULT-style) the client recognises.
pub mod termination {
    /// The app exited (graceful).
    pub const GRACEFUL: u32 = 0x8003_0023;
    /// Protected content on screen.
    pub const PROTECTED_CONTENT: u32 = 0x800E_9302;
    /// The host could not convert frames (HDR or resolution mismatch).
    pub const FRAME_CONVERSION: u32 = 0x800E_9403;
    /// Legacy 2-byte graceful reason.
    pub const LEGACY_GRACEFUL: u16 = 0x0100;
}
