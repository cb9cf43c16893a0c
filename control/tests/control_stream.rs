//! The GameStream control stream over real ENet on loopback: a `rusty_enet` client plays
//! Moonlight's side (48 channels, connect data, v2-encrypted messages).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use punktfunk_control::gamestream::control_stream::server::{EndReason, ServerEvent};
use punktfunk_control::gamestream::control_stream::{
    ControlBinding, ControlEvent, ControlServer, MatchBy,
};
use punktfunk_core::gamestream::control::{ControlCipher, Direction, IvMode, types};
use punktfunk_core::gamestream::input::emit_input_packet;
use punktfunk_core::input::{InputEvent, KeyEvent, Modifiers};
use rusty_enet::{EventNoRef, Host, HostSettings, Packet, PeerID};

const KEY: [u8; 16] = [0x42; 16];

struct Client {
    host: Host<UdpSocket>,
    peer: PeerID,
    cipher: ControlCipher,
    seq: u32,
}

impl Client {
    /// Connects with `data`; returns the client once ENet says connected, or None if refused.
    fn connect(server: SocketAddr, data: u32) -> Option<Self> {
        let epoch = Instant::now();
        let mut host = Host::new(
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            HostSettings {
                peer_limit: 1,
                channel_limit: 48,
                time: Box::new(move || epoch.elapsed()),
                ..HostSettings::default()
            },
        )
        .unwrap();
        let peer = host.connect(server, 48, data).unwrap().id();
        let mut c = Self {
            host,
            peer,
            cipher: ControlCipher::new(&KEY, IvMode::V2),
            seq: 0,
        };
        match c.wait(Duration::from_secs(5)) {
            Some(EventNoRef::Connect { .. }) => {
                // A refused client sees the connection complete, then an immediate disconnect.
                match c.wait(Duration::from_millis(300)) {
                    Some(EventNoRef::Disconnect { .. }) => None,
                    None => Some(c),
                    Some(other) => panic!("unexpected {other:?}"),
                }
            }
            Some(EventNoRef::Disconnect { .. }) | None => None,
            Some(other) => panic!("unexpected {other:?}"),
        }
    }

    fn wait(&mut self, timeout: Duration) -> Option<EventNoRef> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(ev) = self.host.service().unwrap() {
                return Some(ev.no_ref());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    fn send(&mut self, channel: u8, msg_type: u16, payload: &[u8]) {
        let mut out = vec![0u8; ControlCipher::sealed_len(payload.len())];
        let n = self
            .cipher
            .seal(
                Direction::ClientToHost,
                self.seq,
                msg_type,
                payload,
                &mut out,
            )
            .unwrap();
        self.seq += 1;
        self.host
            .peer_mut(self.peer)
            .send(channel, &Packet::reliable(&out[..n]))
            .unwrap();
        self.host.flush();
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.host
            .peer_mut(self.peer)
            .send(0, &Packet::reliable(bytes))
            .unwrap();
        self.host.flush();
    }

    /// Pumps ENet for a while (keeps acks and retransmits flowing).
    fn pump(&mut self, d: Duration) -> Vec<EventNoRef> {
        let end = Instant::now() + d;
        let mut evs = Vec::new();
        while Instant::now() < end {
            if let Some(ev) = self.host.service().unwrap() {
                evs.push(ev.no_ref());
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        evs
    }
}

fn next(server: &ControlServer, client: &mut Client) -> ServerEvent {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        client.pump(Duration::from_millis(2));
        if let Some(ev) = server.next_event(Duration::from_millis(2)) {
            return ev;
        }
    }
    panic!("no server event within 5 s");
}

fn binding(data: u32) -> ControlBinding {
    ControlBinding {
        matcher: MatchBy::ConnectData(data),
        rikey: KEY,
        iv_mode: IvMode::V2,
    }
}

#[test]
fn moonlight_like_session_requests_input_and_termination() {
    let server = ControlServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    server.expect(binding(0xC0FFEE));
    let mut c = Client::connect(server.local_addr(), 0xC0FFEE).expect("admitted");
    assert!(matches!(next(&server, &mut c), ServerEvent::Connected(_)));

    // The client's start-up sequence, then a key press on the keyboard channel.
    c.send(0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
    c.send(0, types::client::START_B, &[0]);
    c.send(0, types::client::PERIODIC_PING, &[4, 0, 0, 0, 0, 0, 0, 0]);
    let key = InputEvent::Key(KeyEvent {
        vk: 0x20,
        pressed: true,
        modifiers: Modifiers::CTRL,
        non_normalized: false,
    });
    let mut buf = [0u8; 64];
    let n = emit_input_packet(&key, &mut buf).unwrap();
    c.send(2, types::client::INPUT_DATA, &buf[..n]);
    let mut rfi = [0u8; 24];
    rfi[..8].copy_from_slice(&10u64.to_le_bytes());
    rfi[8..16].copy_from_slice(&12u64.to_le_bytes());
    c.send(1, types::client::INVALIDATE_REF_FRAMES, &rfi);

    assert_eq!(
        next(&server, &mut c),
        ServerEvent::Control(ControlEvent::RequestIdr)
    );
    assert_eq!(
        next(&server, &mut c),
        ServerEvent::Control(ControlEvent::Input(key))
    );
    assert_eq!(
        next(&server, &mut c),
        ServerEvent::Control(ControlEvent::InvalidateRefFrames {
            first: 10,
            last: 12
        })
    );

    // Rumble, then termination: both arrive decryptable, in order, then ENet disconnects.
    server.send(punktfunk_core::gamestream::control::HostMessage::Rumble {
        controller: 1,
        low_freq: 1000,
        high_freq: 2000,
    });
    server.end_gracefully();
    assert_eq!(
        next(&server, &mut c),
        ServerEvent::Ended(EndReason::Terminated)
    );
    let evs = c.pump(Duration::from_millis(500));
    let mut got = Vec::new();
    let mut disconnected = false;
    for ev in evs {
        match ev {
            EventNoRef::Receive { packet, .. } => {
                let mut scratch = [0u8; 128];
                let m = c
                    .cipher
                    .open(Direction::HostToClient, packet.data(), &mut scratch)
                    .unwrap();
                got.push((m.seq, m.msg_type, m.payload.to_vec()));
            }
            EventNoRef::Disconnect { .. } => disconnected = true,
            EventNoRef::Connect { .. } => panic!("unexpected connect"),
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (0, types::host::RUMBLE));
    assert_eq!(&got[0].2[4..], &[1, 0, 0xe8, 0x03, 0xd0, 0x07]);
    assert_eq!((got[1].0, got[1].1), (1, types::host::TERMINATION));
    assert_eq!(got[1].2, 0x8003_0023u32.to_be_bytes());
    assert!(
        disconnected,
        "client sees the ENet disconnect after termination"
    );
}

#[test]
fn unexpected_and_bad_clients_are_dropped_and_the_server_carries_on() {
    let server = ControlServer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    // Nobody expected yet: refused.
    assert!(Client::connect(server.local_addr(), 7).is_none());
    server.expect(binding(7));
    // Wrong connect data: refused, and the expectation stays.
    assert!(Client::connect(server.local_addr(), 8).is_none());
    let mut c = Client::connect(server.local_addr(), 7).expect("admitted");
    assert!(matches!(next(&server, &mut c), ServerEvent::Connected(_)));
    // A second client while one is active: refused.
    server.expect(binding(9));
    assert!(Client::connect(server.local_addr(), 9).is_none());

    // Garbage instead of an encrypted message: the client is dropped with a reason.
    c.send_raw(&[1, 0, 30, 0, 1, 2, 3, 4, 5]);
    match next(&server, &mut c) {
        ServerEvent::Ended(EndReason::BadMessage(why)) => assert!(!why.is_empty()),
        other => panic!("expected a drop, got {other:?}"),
    }
    // The pending expectation (9) still admits its client afterwards.
    let mut d = Client::connect(server.local_addr(), 9).expect("server still healthy");
    assert!(matches!(next(&server, &mut d), ServerEvent::Connected(_)));
    d.send(0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
    assert_eq!(
        next(&server, &mut d),
        ServerEvent::Control(ControlEvent::RequestIdr)
    );
}
