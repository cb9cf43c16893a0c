//! The host's per-session video sender (punktfunk/1 §4.6, §5): waits for the client's hole
//! punch, connects the data socket, then seals and sends one AU per frame interval.
//!
//! Sealing is behind [`VideoSealer`] so the datapath's engines can replace this plain-socket
//! sender later; the source here is the synthetic test stream of §5.7 until the media crate
//! provides encoders.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use glommio::net::UdpSocket;
use punktfunk_core::native::control::PUNCH;
use punktfunk_core::native::control::handshake::WelcomeRepr;
use punktfunk_core::native::data::user_flags;
use punktfunk_core::slots::DatagramBuf;
use tracing::{debug, info, warn};

/// Size of a synthetic AU (§5.7).
pub const SYNTHETIC_AU_LEN: usize = 64 * 1024;
/// How long the host waits for the first punch (§4.6).
pub const PUNCH_WAIT: Duration = Duration::from_millis(2500);

/// Fills `au` with synthetic AU `index`: `u32 LE index`, then `byte[i] = (index + i) mod 256`.
pub fn synthetic_au(index: u32, au: &mut [u8]) {
    for (i, b) in au.iter_mut().enumerate() {
        *b = (index as usize).wrapping_add(i) as u8;
    }
    let n = au.len().min(4);
    au[..n].copy_from_slice(&index.to_le_bytes()[..n]);
}

/// Checks a received AU against the synthetic pattern; returns its index when it matches.
pub fn verify_synthetic_au(au: &[u8]) -> Option<u32> {
    if au.len() != SYNTHETIC_AU_LEN {
        return None;
    }
    let index = u32::from_le_bytes([au[0], au[1], au[2], au[3]]);
    au[4..]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (index as usize).wrapping_add(i + 4) as u8)
        .then_some(index)
}

/// Realtime clock in ns since the Unix epoch (the clock of `pts_ns` and clock sync).
pub fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Seals AUs into datagrams. Implemented over core's frame sealer; tests may use their own.
pub trait VideoSealer {
    /// Seals one AU into `out` (appending datagrams), returning the number of datagrams.
    fn seal(
        &mut self,
        au: &[u8],
        pts_ns: u64,
        user_flags: u32,
        fec_pct: u8,
        out: &mut DatagramBuf,
    ) -> Result<usize, String>;
}

/// Makes the sealer for a session from its Welcome.
pub type SealerFactory = Rc<dyn Fn(&WelcomeRepr) -> Result<Box<dyn VideoSealer>, String>>;

/// State shared between a session's control handler and its data-plane task (same executor).
#[derive(Debug)]
pub struct SessionShared {
    /// Current FEC percentage.
    pub fec_pct: Cell<u8>,
    /// The next AU must be a recovery point (keyframe/RFI request, mode change).
    pub keyframe_requested: Cell<bool>,
    /// Keyframe requests served.
    pub keyframes: Cell<u32>,
    /// Ask the data plane to stop.
    pub stop: Cell<bool>,
    /// The data plane has ended (synthetic count reached, error or stop).
    pub ended: Cell<bool>,
    /// AUs sent.
    pub frames_sent: Cell<u64>,
    /// Datagrams sent.
    pub datagrams_sent: Cell<u64>,
    /// Frame rate in use.
    pub fps: Cell<u32>,
}

impl SessionShared {
    /// Fresh shared state.
    pub fn new(fec_pct: u8, fps: u32) -> Rc<Self> {
        Rc::new(Self {
            fec_pct: Cell::new(fec_pct),
            keyframe_requested: Cell::new(false),
            keyframes: Cell::new(0),
            stop: Cell::new(false),
            ended: Cell::new(false),
            frames_sent: Cell::new(0),
            datagrams_sent: Cell::new(0),
            fps: Cell::new(fps.clamp(1, 1000)),
        })
    }
}

/// Adaptive FEC from LossReports (§7): fast attack, −1 point per clean report, band
/// `[min, max]`.
#[derive(Debug, Clone, Copy)]
pub struct AdaptiveFec {
    /// Lowest percentage.
    pub min: u8,
    /// Highest percentage.
    pub max: u8,
}

impl AdaptiveFec {
    /// The band punktfunk uses: 1..50.
    pub const DEFAULT: Self = Self { min: 1, max: 50 };

    /// The next percentage after a report of `loss_ppm` at `current`.
    pub fn next(&self, current: u8, loss_ppm: u32) -> u8 {
        let next = if loss_ppm == 0 {
            current.saturating_sub(1)
        } else {
            // Twice the observed loss plus headroom, never below the current level.
            let loss_pct = loss_ppm.div_ceil(10_000);
            let target = loss_pct
                .saturating_mul(2)
                .saturating_add(5)
                .min(u8::MAX as u32) as u8;
            current.max(target)
        };
        next.clamp(self.min, self.max)
    }
}

/// Everything the data-plane task needs.
pub struct DataPlane {
    /// The bound data socket (its port is `Welcome.udp_port`).
    pub socket: UdpSocket,
    /// The client's QUIC IP (punches from elsewhere are ignored).
    pub peer_ip: IpAddr,
    /// `Start.client_udp_port` (fallback destination).
    pub client_udp_port: u16,
    /// AUs to send (0 = until stopped).
    pub frames: u32,
    /// The session's sealer.
    pub sealer: Box<dyn VideoSealer>,
    /// Shared state with the control handler.
    pub shared: Rc<SessionShared>,
}

impl DataPlane {
    /// Waits for the punch and connects the socket (§4.6). Returns the destination.
    async fn punch(&self) -> SocketAddr {
        let fallback = SocketAddr::new(self.peer_ip, self.client_udp_port);
        let deadline = Instant::now() + PUNCH_WAIT;
        let mut buf = [0u8; 64];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.shared.stop.get() {
                debug!("no hole punch within {PUNCH_WAIT:?}; sending to {fallback}");
                return fallback;
            }
            let step = left.min(Duration::from_millis(100));
            if let Ok((n, from)) =
                glommio::timer::timeout(step, async { self.socket.recv_from(&mut buf).await }).await
                && &buf[..n] == PUNCH
                && from.ip() == self.peer_ip
            {
                debug!("hole punch from {from}");
                return from;
            }
        }
    }

    /// Runs the sender until the frame count is reached or the session stops.
    pub async fn run(mut self) {
        let dest = self.punch().await;
        if let Err(e) = self.socket.connect(dest).await {
            warn!("data socket connect to {dest}: {e}");
            self.shared.ended.set(true);
            return;
        }
        info!("data plane → {dest}");
        let mut au = vec![0u8; SYNTHETIC_AU_LEN];
        let mut out = DatagramBuf::new();
        let start = Instant::now();
        let mut index: u32 = 0;
        let mut next = start;
        while !self.shared.stop.get() && (self.frames == 0 || index < self.frames) {
            let now = Instant::now();
            if next > now {
                glommio::timer::sleep(next - now).await;
                continue;
            }
            synthetic_au(index, &mut au);
            let mut flags = user_flags::PUNKTFUNK_DEFAULT;
            if index == 0 || self.shared.keyframe_requested.replace(false) {
                flags |= user_flags::RECOVERY_POINT;
            }
            out.clear();
            match self.sealer.seal(
                &au,
                realtime_ns(),
                flags,
                self.shared.fec_pct.get(),
                &mut out,
            ) {
                Ok(_) => {}
                Err(e) => {
                    warn!("sealing AU {index} failed: {e}");
                    break;
                }
            }
            for d in out.iter() {
                if let Err(e) = self.socket.send(d).await {
                    debug!("data send failed: {e}");
                }
            }
            self.shared
                .datagrams_sent
                .set(self.shared.datagrams_sent.get() + out.len() as u64);
            self.shared
                .frames_sent
                .set(self.shared.frames_sent.get() + 1);
            index = index.wrapping_add(1);
            let interval = Duration::from_nanos(1_000_000_000 / self.shared.fps.get() as u64);
            next += interval;
            // After a stall, do not burst to catch up.
            if Instant::now() > next + interval * 4 {
                next = Instant::now();
            }
        }
        info!("data plane ended after {index} AUs");
        self.shared.ended.set(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_pattern() {
        let mut au = vec![0u8; SYNTHETIC_AU_LEN];
        synthetic_au(0x0102_0304, &mut au);
        assert_eq!(&au[..6], &[4, 3, 2, 1, 0x08, 0x09]);
        assert_eq!(verify_synthetic_au(&au), Some(0x0102_0304));
        au[1000] ^= 1;
        assert_eq!(verify_synthetic_au(&au), None);
        assert_eq!(verify_synthetic_au(&au[..100]), None);
    }

    #[test]
    fn adaptive_fec_attacks_fast_and_decays_slowly() {
        let a = AdaptiveFec::DEFAULT;
        assert_eq!(a.next(10, 0), 9);
        assert_eq!(a.next(1, 0), 1);
        assert_eq!(a.next(10, 50_000), 15); // 5 % loss → 15 %
        assert_eq!(a.next(40, 50_000), 40);
        assert_eq!(a.next(10, 1_000_000), 50);
    }
}
