//! The UDP socket under ENet, with the two things `rusty_enet`'s own socket lacks:
//!
//! - **Socket buffers.** ENet asks for 256 KiB receive/send buffers; without them bursts of
//!   unreliable messages were lost (design-notes §4). They are set here.
//! - **Clients whose address changes.** `rusty_enet` drops datagrams from an address other
//!   than the peer's, while Moonlight's ENet fork follows a client whose address or port
//!   changes (a rebinding NAT, a roaming laptop). Datagrams of a bound peer (its id is in the
//!   ENet header) arriving from a new address are handed to ENet under the peer's original
//!   address. Replies keep going to the address that last sent an *authenticated* message:
//!   the server calls [`EnetSocket::confirm`] after a message from that peer decrypted, so an
//!   unauthenticated sender cannot redirect the stream.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;

use rusty_enet::{MTU_MAX, PacketReceived, Socket, SocketOptions};

/// Peer id bits of the ENet protocol header (BE u16; 0xFFF = not yet assigned).
const PEER_ID_MASK: u16 = 0x0FFF;
const UNASSIGNED_PEER: u16 = 0x0FFF;

#[derive(Debug, Clone, Copy)]
struct Route {
    /// The address ENet knows the peer by (where it connected from).
    original: SocketAddr,
    /// Where replies go now.
    current: SocketAddr,
    /// Where the newest datagram of this peer came from.
    last_from: SocketAddr,
}

/// A UDP socket for `rusty_enet::Host` that follows roaming clients.
#[derive(Debug)]
pub struct EnetSocket {
    socket: UdpSocket,
    routes: HashMap<u16, Route>,
    by_original: HashMap<SocketAddr, u16>,
    roams: u64,
}

impl EnetSocket {
    /// Wraps a bound socket.
    pub fn new(socket: UdpSocket) -> Self {
        Self {
            socket,
            routes: HashMap::new(),
            by_original: HashMap::new(),
            roams: 0,
        }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The socket (for polling readiness).
    pub fn udp(&self) -> &UdpSocket {
        &self.socket
    }

    /// Starts following ENet peer `peer_id`, which connected from `addr`.
    pub fn bind_peer(&mut self, peer_id: u16, addr: SocketAddr) {
        self.forget(peer_id);
        self.routes.insert(
            peer_id,
            Route {
                original: addr,
                current: addr,
                last_from: addr,
            },
        );
        self.by_original.insert(addr, peer_id);
    }

    /// Stops following `peer_id` (it disconnected; its slot may be reused).
    pub fn forget(&mut self, peer_id: u16) {
        if let Some(r) = self.routes.remove(&peer_id) {
            self.by_original.remove(&r.original);
        }
    }

    /// A message from `peer_id` authenticated: send replies to where it came from.
    pub fn confirm(&mut self, peer_id: u16) {
        if let Some(r) = self.routes.get_mut(&peer_id)
            && r.current != r.last_from
        {
            tracing::info!(from = %r.current, to = %r.last_from, "control stream client moved");
            r.current = r.last_from;
            self.roams += 1;
        }
    }

    /// How many times a client's reply address changed.
    pub fn roams(&self) -> u64 {
        self.roams
    }

    /// Where replies to `peer_id` go now.
    pub fn current_addr(&self, peer_id: u16) -> Option<SocketAddr> {
        self.routes.get(&peer_id).map(|r| r.current)
    }
}

fn set_buffers(socket: &UdpSocket, opts: SocketOptions) -> io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    setsockopt(&socket.as_fd(), sockopt::RcvBuf, &opts.receive_buffer).map_err(io::Error::from)?;
    setsockopt(&socket.as_fd(), sockopt::SndBuf, &opts.send_buffer).map_err(io::Error::from)?;
    Ok(())
}

impl Socket for EnetSocket {
    type Address = SocketAddr;
    type Error = io::Error;

    fn init(&mut self, opts: SocketOptions) -> Result<(), io::Error> {
        self.socket.set_nonblocking(true)?;
        set_buffers(&self.socket, opts)
    }

    fn send(&mut self, address: SocketAddr, buffer: &[u8]) -> Result<usize, io::Error> {
        let to = self
            .by_original
            .get(&address)
            .and_then(|id| self.routes.get(id))
            .map_or(address, |r| r.current);
        match self.socket.send_to(buffer, to) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn receive(
        &mut self,
        buffer: &mut [u8; MTU_MAX],
    ) -> Result<Option<(SocketAddr, PacketReceived)>, io::Error> {
        loop {
            let (n, from) = match self.socket.recv_from(buffer) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                // ICMP port unreachable from a vanished client surfaces here: not fatal.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            };
            let mut addr = from;
            if n >= 2 {
                let peer = u16::from_be_bytes([buffer[0], buffer[1]]) & PEER_ID_MASK;
                if peer != UNASSIGNED_PEER
                    && let Some(r) = self.routes.get_mut(&peer)
                {
                    r.last_from = from;
                    addr = r.original;
                }
            }
            return Ok(Some((addr, PacketReceived::Complete(n))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roaming_peer_is_mapped_and_replies_follow_only_after_confirm() {
        let host = UdpSocket::bind("127.0.0.1:0").unwrap();
        let host_addr = host.local_addr().unwrap();
        let mut s = EnetSocket::new(host);
        s.init(SocketOptions {
            receive_buffer: 256 * 1024,
            send_buffer: 256 * 1024,
        })
        .unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        b.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        s.bind_peer(3, aa);
        let mut buf = [0u8; MTU_MAX];
        let recv = |s: &mut EnetSocket, buf: &mut [u8; MTU_MAX]| {
            for _ in 0..200 {
                if let Some((addr, PacketReceived::Complete(n))) = s.receive(buf).unwrap() {
                    return (addr, n);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            panic!("nothing received");
        };
        // peer 3 speaks from b: ENet sees the original address a
        b.send_to(&[0x00, 0x03, 9, 9], host_addr).unwrap();
        assert_eq!(recv(&mut s, &mut buf), (aa, 4));
        // unknown peer id from b: passed through as-is
        b.send_to(&[0x00, 0x05, 1], host_addr).unwrap();
        assert_eq!(recv(&mut s, &mut buf), (ba, 3));
        // replies still go to a until a message authenticated
        s.send(aa, b"x").unwrap();
        let mut r = [0u8; 8];
        assert_eq!(a.recv_from(&mut r).unwrap().0, 1);
        s.confirm(3);
        assert_eq!(s.current_addr(3), Some(ba));
        s.send(aa, b"yz").unwrap();
        assert_eq!(b.recv_from(&mut r).unwrap().0, 2);
        assert_eq!(s.roams(), 1);
        s.forget(3);
        assert_eq!(s.current_addr(3), None);
        // the buffers were set (the kernel doubles the value it reports)
        let rcv = nix::sys::socket::getsockopt(&s.udp().as_fd(), nix::sys::socket::sockopt::RcvBuf)
            .unwrap();
        assert!(rcv >= 256 * 1024, "receive buffer {rcv}");
    }
}
