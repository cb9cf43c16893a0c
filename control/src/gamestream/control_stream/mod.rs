//! The GameStream control stream (gamestream-protocol.md §5): ENet on UDP `B + 10`, every
//! message AES-GCM sealed (control protocol v2).
//!
//! - [`session`]: the sans-IO part: opens client messages, turns them into [`ControlEvent`]s
//!   (IDR and RFI requests, input, FEC reports) and seals host messages.
//! - [`socket`]: the UDP socket handed to ENet, fixing what `rusty_enet` leaves out (socket
//!   buffers, clients whose address changes mid-session).
//! - [`server`]: the driver thread that owns the ENet host, binds the one expected client,
//!   and talks to the rest of the host over channels.

pub mod server;
pub mod session;
pub mod socket;

pub use server::{ControlBinding, ControlServer, ControlServerError, MatchBy};
pub use session::{ControlEvent, ControlSession, ControlStats, SessionError};
