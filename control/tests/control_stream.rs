//! The GameStream control stream over real ENet on loopback: a `rusty_enet` client plays
//! Moonlight's side (48 channels, connect data, v2-encrypted messages).

use std::time::{Duration, Instant};

use punktfunk_control::gamestream::control_stream::server::{EndReason, ServerEvent};
use punktfunk_control::gamestream::control_stream::{
    ControlBinding, ControlEvent, ControlServer, MatchBy,
};
use punktfunk_control::gamestream::stream::loopback::ControlClient as Client;
use punktfunk_core::gamestream::control::{IvMode, types};
use punktfunk_core::gamestream::input::emit_input_packet;
use punktfunk_core::input::{InputEvent, KeyEvent, Modifiers};
use rusty_enet::EventNoRef;

const KEY: [u8; 16] = [0x42; 16];

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
    let mut c = Client::connect(server.local_addr(), 0xC0FFEE, &KEY).expect("admitted");
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
                let m = c.open(packet.data()).expect("host message authenticates");
                got.push((m.seq, m.msg_type, m.payload));
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
    assert!(Client::connect(server.local_addr(), 7, &KEY).is_none());
    server.expect(binding(7));
    // Wrong connect data: refused, and the expectation stays.
    assert!(Client::connect(server.local_addr(), 8, &KEY).is_none());
    let mut c = Client::connect(server.local_addr(), 7, &KEY).expect("admitted");
    assert!(matches!(next(&server, &mut c), ServerEvent::Connected(_)));
    // A second client while one is active: refused.
    server.expect(binding(9));
    assert!(Client::connect(server.local_addr(), 9, &KEY).is_none());

    // Garbage instead of an encrypted message: the client is dropped with a reason.
    c.send_raw(0, &[1, 0, 30, 0, 1, 2, 3, 4, 5]);
    match next(&server, &mut c) {
        ServerEvent::Ended(EndReason::BadMessage(why)) => assert!(!why.is_empty()),
        other => panic!("expected a drop, got {other:?}"),
    }
    // The pending expectation (9) still admits its client afterwards.
    let mut d = Client::connect(server.local_addr(), 9, &KEY).expect("server still healthy");
    assert!(matches!(next(&server, &mut d), ServerEvent::Connected(_)));
    d.send(0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
    assert_eq!(
        next(&server, &mut d),
        ServerEvent::Control(ControlEvent::RequestIdr)
    );
}
