//! QUIC application close codes (§2.6).

/// A QUIC application error code as punktfunk/1 uses it. Unknown values are kept, so a round
/// trip never loses information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u32);

impl CloseCode {
    /// Normal end.
    pub const NORMAL: Self = Self(0);
    /// Error or aborted pairing.
    pub const ERROR: Self = Self(1);
    /// Host busy.
    pub const BUSY: Self = Self(0x42);
    /// Client quits on purpose (tear down now).
    pub const CLIENT_QUIT: Self = Self(0x51);
    /// The launched game exited.
    pub const GAME_EXITED: Self = Self(0x52);
    /// Pairing is not armed.
    pub const PAIRING_NOT_ARMED: Self = Self(0x60);
    /// Pairing is armed for another device.
    pub const PAIRING_OTHER_DEVICE: Self = Self(0x61);
    /// Pairing attempts are rate-limited.
    pub const PAIRING_RATE_LIMITED: Self = Self(0x62);
    /// A client certificate is required.
    pub const IDENTITY_REQUIRED: Self = Self(0x63);
    /// Denied (e.g. not paired).
    pub const DENIED: Self = Self(0x64);
    /// Approval timed out.
    pub const APPROVAL_TIMEOUT: Self = Self(0x65);
    /// Superseded by a newer knock.
    pub const SUPERSEDED: Self = Self(0x66);
    /// Wire-version mismatch.
    pub const WIRE_VERSION_MISMATCH: Self = Self(0x67);
    /// Session setup failed (reason bytes carry text).
    pub const SETUP_FAILED: Self = Self(0x68);
    /// Access expired.
    pub const ACCESS_EXPIRED: Self = Self(0x69);
    /// Launch not permitted.
    pub const LAUNCH_NOT_PERMITTED: Self = Self(0x6A);

    /// A short human-readable name, `None` for codes this crate does not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "normal",
            1 => "error",
            0x42 => "busy",
            0x51 => "client quit",
            0x52 => "game exited",
            0x60 => "pairing not armed",
            0x61 => "pairing armed for another device",
            0x62 => "pairing rate-limited",
            0x63 => "client identity required",
            0x64 => "denied",
            0x65 => "approval timed out",
            0x66 => "superseded",
            0x67 => "wire-version mismatch",
            0x68 => "setup failed",
            0x69 => "access expired",
            0x6A => "launch not permitted",
            _ => return None,
        })
    }
}

impl core::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{:#x} ({n})", self.0),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_have_names_and_unknown_do_not() {
        for c in [
            0u32, 1, 0x42, 0x51, 0x52, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
            0x6A,
        ] {
            assert!(CloseCode(c).name().is_some(), "{c:#x}");
        }
        assert_eq!(CloseCode(0x6B).name(), None);
        assert_eq!(CloseCode::DENIED.to_string(), "0x64 (denied)");
    }
}
