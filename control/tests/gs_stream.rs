//! A GameStream stream session over real sockets on loopback, with the client's side played
//! by this test: UDP pings on the video and audio ports, ENet with the encrypted control
//! stream, video and audio reassembled with the core depacketizers (FEC recovery included),
//! input reaching the input sink, and termination at the end.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use punktfunk_control::gamestream::stream::loopback::{
    self, ClientParams, ControlClient, LaunchKeys,
};
use punktfunk_control::gamestream::stream::{
    AudioFeed, EncodedVideo, InputSink, StreamOptions, StreamSession, VideoFeed,
};
use punktfunk_core::gamestream::audio::{AudioConfig, AudioDepacketizer, AudioEvent, AudioKey};
use punktfunk_core::gamestream::control::types;
use punktfunk_core::gamestream::input::{emit_gamepad_state, emit_input_packet};
use punktfunk_core::gamestream::video::{FrameType, VideoConfig, VideoDepacketizer, VideoEvent};
use punktfunk_core::input::{
    AbsolutePosition, BatteryState, Feedback, GamepadButtons, GamepadCapabilities, GamepadInfo,
    GamepadKind, GamepadState, InputEvent, KeyEvent, Modifiers, MotionSensor, MouseButton,
    PenButtons, PenEvent, PenTool, ScrollAxis, TextInput, TouchEvent, TouchPhase,
};

const RIKEY: [u8; 16] = [0x5a; 16];
const RIKEYID: u32 = 0x0102_0304;
const PING: &str = "FEDCBA9876543210";
const CONNECT_DATA: u32 = 0x1234_5678;
const FRAMES: u32 = 40;

/// Frame `i`: a recognisable pattern whose last byte is never zero (H.264 trimming).
fn frame_bytes(i: u32) -> Vec<u8> {
    let len = 500 + (i as usize * 7919) % 60_000;
    (0..len)
        .map(|t| ((t as u32).wrapping_mul(31) ^ i) as u8 | 1)
        .collect()
}

struct TestVideo {
    next: u32,
    idr_pending: bool,
    idr_sent: Arc<Mutex<Vec<u32>>>,
}

impl VideoFeed for TestVideo {
    fn next_frame(&mut self) -> Option<EncodedVideo> {
        if self.next >= FRAMES {
            std::thread::sleep(Duration::from_millis(20));
            return Some(EncodedVideo {
                data: frame_bytes(0),
                idr: false,
                captured: Instant::now(),
            })
            .filter(|_| false);
        }
        std::thread::sleep(Duration::from_millis(8)); // ~120 fps
        let i = self.next;
        self.next += 1;
        let idr = std::mem::take(&mut self.idr_pending);
        if idr {
            self.idr_sent.lock().unwrap().push(i);
        }
        Some(EncodedVideo {
            data: frame_bytes(i),
            idr,
            captured: Instant::now(),
        })
    }
    fn request_idr(&mut self) {
        self.idr_pending = true;
    }
}

struct TestAudio(u32);

impl AudioFeed for TestAudio {
    fn next_packet(&mut self) -> Option<Vec<u8>> {
        if self.0 >= 64 {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
        self.0 += 1;
        Some(vec![self.0 as u8; 60])
    }
}

/// One event of every input packet type, with the ENet channel Moonlight sends it on.
fn every_input_event() -> Vec<(u8, InputEvent)> {
    vec![
        (
            2,
            InputEvent::Key(KeyEvent {
                vk: 0x41,
                pressed: true,
                modifiers: Modifiers::SHIFT,
                non_normalized: false,
            }),
        ),
        (6, InputEvent::Text(TextInput::new("grüße ✓").unwrap())),
        (3, InputEvent::PointerMotion { dx: -7, dy: 12 }),
        (
            3,
            InputEvent::PointerPosition(AbsolutePosition {
                x: 100,
                y: 200,
                width: 1920,
                height: 1080,
            }),
        ),
        (
            3,
            InputEvent::Button {
                button: MouseButton::Right,
                pressed: true,
            },
        ),
        (
            3,
            InputEvent::Scroll {
                axis: ScrollAxis::Vertical,
                amount: -120,
            },
        ),
        (
            3,
            InputEvent::Scroll {
                axis: ScrollAxis::Horizontal,
                amount: 240,
            },
        ),
        (
            5,
            InputEvent::Touch(TouchEvent {
                phase: TouchPhase::Down,
                pointer_id: 3,
                x: 0.5,
                y: 0.25,
                pressure: 0.75,
                contact_major: 0.125,
                contact_minor: 0.0625,
                orientation: Some(90),
            }),
        ),
        (
            4,
            InputEvent::Pen(PenEvent {
                phase: TouchPhase::Move,
                tool: PenTool::Pen,
                buttons: PenButtons::PRIMARY,
                x: 0.25,
                y: 0.75,
                pressure: 0.5,
                rotation: Some(45),
                tilt: Some(30),
                contact_major: 0.0,
                contact_minor: 0.0,
            }),
        ),
        (
            0x10,
            InputEvent::GamepadArrival(GamepadInfo {
                index: 0,
                kind: GamepadKind::PlayStation,
                capabilities: GamepadCapabilities(0x3),
                supported_buttons: GamepadButtons(0xFFFF),
            }),
        ),
        (
            0x20,
            InputEvent::GamepadMotion {
                index: 0,
                sensor: MotionSensor::Gyroscope,
                xyz: [1.5, -2.0, 0.25],
            },
        ),
        (
            0x10,
            InputEvent::GamepadBattery {
                index: 0,
                state: BatteryState::Charging,
                percent: Some(80),
            },
        ),
    ]
}

/// Records input; after the first event, "a game" sets a rumble that must reach the client.
struct TestInput(mpsc::Sender<InputEvent>, Option<bool>);

impl InputSink for TestInput {
    fn inject(&mut self, event: InputEvent) {
        let _ = self.0.send(event);
        self.1.get_or_insert(true);
    }
    fn poll_feedback(&mut self, out: &mut Vec<Feedback>) {
        if self.1 == Some(true) {
            self.1 = Some(false);
            out.push(Feedback::Rumble {
                index: 0,
                low_freq: 0x1234,
                high_freq: 0x5678,
            });
        }
    }
}

fn keys() -> LaunchKeys {
    LaunchKeys {
        rikey: RIKEY,
        rikeyid: RIKEYID,
        ping_payload: PING.into(),
        connect_data: CONNECT_DATA,
    }
}

/// Sends session pings every 50 ms from `socket` to `to` until `stop`.
fn pinger(socket: UdpSocket, to: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let _ = socket.send_to(&loopback::ping(PING, n), to);
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

fn run_session(encryption: u32) {
    let ports = loopback::free_ports().expect("free ports");
    let config = loopback::announce(&ClientParams {
        encryption,
        width: 1920,
        height: 1080,
        fps: 60,
        bitrate_kbps: 20_000,
    });
    let start = loopback::stream_start(config, ports, &keys());
    let idr_sent = Arc::new(Mutex::new(Vec::new()));
    let (input_tx, input_rx) = mpsc::channel();
    let opts = StreamOptions {
        bind_ip: "127.0.0.1".parse().unwrap(),
        ping_timeout: Duration::from_secs(5),
        ..StreamOptions::default()
    };
    let session = StreamSession::start(
        &start,
        &opts,
        TestVideo {
            next: 0,
            idr_pending: false,
            idr_sent: idr_sent.clone(),
        },
        TestAudio(0),
        TestInput(input_tx, None),
    )
    .expect("session starts");

    // ENet: the control stream, as Moonlight opens it.
    let mut enet = ControlClient::connect(
        SocketAddr::from(([127, 0, 0, 1], ports.control)),
        CONNECT_DATA,
        &RIKEY,
    )
    .expect("control stream admitted");
    enet.send(0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
    enet.send(0, types::client::START_B, &[0]);

    // Video and audio sockets, pinging.
    let video = UdpSocket::bind("127.0.0.1:0").unwrap();
    let audio = UdpSocket::bind("127.0.0.1:0").unwrap();
    video
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    audio.set_nonblocking(true).unwrap();
    let stop_ping = Arc::new(AtomicBool::new(false));
    let p1 = pinger(
        video.try_clone().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], ports.video)),
        stop_ping.clone(),
    );
    let p2 = pinger(
        audio.try_clone().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], ports.audio)),
        stop_ping.clone(),
    );

    let vconfig = VideoConfig {
        packet_size: config.packet_size as usize,
        fec_percentage: 20,
        min_required_fec_packets: 2,
        encryption_key: (encryption & 2 != 0).then_some(RIKEY),
    };
    let mut depack = VideoDepacketizer::new(vconfig).unwrap();
    let mut adepack = AudioDepacketizer::new(AudioConfig {
        packet_duration_ms: 5,
        encryption: Some(AudioKey {
            key: RIKEY,
            key_id: RIKEYID,
        }),
    });
    let mut frames: Vec<(u32, FrameType, Vec<u8>, usize)> = Vec::new();
    let mut lost = 0u32;
    let mut audio_packets = Vec::new();
    let mut datagrams = 0u64;
    let mut buf = [0u8; 2048];
    let mut sent_key = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut host_messages: Vec<(u16, Vec<u8>)> = Vec::new();
    while frames.len() + (lost as usize) < FRAMES as usize && Instant::now() < deadline {
        if let Some(m) = enet.poll_message() {
            host_messages.push((m.msg_type, m.payload));
        }
        if let Ok((n, _)) = video.recv_from(&mut buf) {
            datagrams += 1;
            // Drop every 13th datagram: FEC (20 %, ≥ 2 parity per block) must repair it.
            if !datagrams.is_multiple_of(13) {
                let _ = depack.handle_datagram(&buf[..n], |ev| match ev {
                    VideoEvent::Frame(f) => frames.push((
                        f.frame_index,
                        f.header.frame_type,
                        f.data.to_vec(),
                        f.recovered_shards,
                    )),
                    VideoEvent::Lost { first, last } => lost += last - first + 1,
                    VideoEvent::Corrupt {
                        frame_index,
                        reason,
                    } => {
                        panic!("frame {frame_index} corrupt: {reason}")
                    }
                });
            }
        }
        while let Ok((n, _)) = audio.recv_from(&mut buf) {
            let _ = adepack.handle_datagram(&buf[..n], |ev| {
                if let AudioEvent::Packet { opus, .. } = ev {
                    audio_packets.push(opus.to_vec());
                }
            });
        }
        if !sent_key && frames.len() > 5 {
            sent_key = true;
            // Every input packet type, each on the channel Moonlight uses for it (§5.1).
            let mut b = [0u8; 128];
            for (channel, event) in every_input_event() {
                let n = emit_input_packet(&event, &mut b).unwrap();
                enet.send(channel, types::client::INPUT_DATA, &b[..n]);
            }
            let pad = GamepadState {
                buttons: GamepadButtons(0x1000),
                left_stick: (1000, -1000),
                right_stick: (-5, 5),
                left_trigger: 10,
                right_trigger: 250,
            };
            let n = emit_gamepad_state(0, 0b1, &pad, &mut b).unwrap();
            enet.send(0x10, types::client::INPUT_DATA, &b[..n]);
            enet.send(1, types::client::REQUEST_IDR_FRAME, &[0, 0]);
        }
    }
    assert_eq!(lost, 0, "no frame lost at 1/13 datagram loss with 20% FEC");
    assert_eq!(frames.len(), FRAMES as usize, "every frame arrived");
    let recovered: usize = frames.iter().map(|f| f.3).sum();
    assert!(recovered > 0, "some shards were rebuilt by FEC");
    for (k, (index, ftype, data, _)) in frames.iter().enumerate() {
        assert_eq!(*index, k as u32 + 1, "frameIndex starts at 1, +1 per frame");
        assert_eq!(data, &frame_bytes(k as u32), "frame {k} bytes intact");
        let want_idr = idr_sent.lock().unwrap().contains(&(k as u32));
        assert_eq!(*ftype == FrameType::Idr, want_idr, "frame {k} type");
    }
    assert_eq!(frames[0].1, FrameType::Idr, "the first frame is an IDR");
    assert!(
        idr_sent.lock().unwrap().len() >= 2,
        "the client's later IDR request was honoured"
    );
    let sent = every_input_event();
    let mut got = Vec::new();
    while let Ok(ev) = input_rx.recv_timeout(Duration::from_secs(2)) {
        got.push(ev);
        if got.len() >= sent.len() + 2 {
            break;
        }
    }
    for (_, ev) in &sent {
        assert!(
            got.contains(ev),
            "{ev:?} did not reach the input sink; got {got:?}"
        );
    }
    assert!(
        got.iter().any(|e| matches!(e, InputEvent::GamepadState { index: 0, state } if state.right_trigger == 250)),
        "gamepad state reached the sink: {got:?}"
    );
    assert!(
        audio_packets.len() >= 8,
        "audio flows: {}",
        audio_packets.len()
    );
    for (i, p) in audio_packets.iter().enumerate() {
        assert_eq!(
            p,
            &vec![(i + 1) as u8; 60],
            "audio packet {i} decrypted intact"
        );
    }

    // Let the rumble arrive, then check what the host sent on the control stream.
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end && !host_messages.iter().any(|m| m.0 == types::host::RUMBLE) {
        if let Some(m) = enet.poll_message() {
            host_messages.push((m.msg_type, m.payload));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        host_messages.first().map(|m| m.0),
        Some(types::host::HDR_MODE),
        "HDR mode first"
    );
    assert_eq!(host_messages[0].1[0], 0, "SDR");
    let rumble = host_messages
        .iter()
        .find(|m| m.0 == types::host::RUMBLE)
        .expect("rumble sent");
    assert_eq!(&rumble.1[4..], &[0, 0, 0x34, 0x12, 0x78, 0x56]);

    // Host ends the session: the client gets the termination message.
    let report = session.stop(types::termination::GRACEFUL);
    stop_ping.store(true, Ordering::Relaxed);
    let mut terminated = false;
    let end = Instant::now() + Duration::from_secs(3);
    while !terminated && Instant::now() < end {
        if let Some(m) = enet.poll_message() {
            terminated = m.msg_type == types::host::TERMINATION;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(terminated, "termination message received");
    assert_eq!(report.video_frames, u64::from(FRAMES));
    assert!(report.idr_requests >= 2, "{report:?}");
    assert_eq!(report.input_events as usize, got.len());
    assert_eq!(report.feedback_sent, 1);
    p1.join().unwrap();
    p2.join().unwrap();
}

#[test]
fn stream_session_plain_video_encrypted_audio_and_control() {
    run_session(0x05);
}

#[test]
fn stream_session_encrypted_video() {
    run_session(0x07);
}

/// A client that vanishes (no ENet disconnect, no more pings) ends its session within the
/// ENet timeout (10 s), and every port is free again afterwards.
#[test]
fn vanished_client_ends_the_session_and_frees_its_ports() {
    let ports = loopback::free_ports().expect("free ports");
    let config = loopback::announce(&ClientParams {
        encryption: 5,
        width: 1280,
        height: 720,
        fps: 60,
        bitrate_kbps: 10_000,
    });
    let start = loopback::stream_start(config, ports, &keys());
    let (input_tx, _input_rx) = mpsc::channel();
    let opts = StreamOptions {
        bind_ip: "127.0.0.1".parse().unwrap(),
        ..StreamOptions::default()
    };
    let session = StreamSession::start(
        &start,
        &opts,
        TestVideo {
            next: 0,
            idr_pending: false,
            idr_sent: Arc::default(),
        },
        TestAudio(0),
        TestInput(input_tx, None),
    )
    .unwrap();
    {
        let _enet = ControlClient::connect(
            SocketAddr::from(([127, 0, 0, 1], ports.control)),
            CONNECT_DATA,
            &RIKEY,
        )
        .expect("control stream admitted");
        let video = UdpSocket::bind("127.0.0.1:0").unwrap();
        video
            .send_to(
                &loopback::ping(PING, 1),
                SocketAddr::from(([127, 0, 0, 1], ports.video)),
            )
            .unwrap();
        // The client vanishes here: its ENet host and sockets are dropped without a word.
    }
    let t0 = Instant::now();
    while !session.is_finished() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        session.is_finished(),
        "the session noticed the vanished client"
    );
    let waited = t0.elapsed();
    assert!(waited < Duration::from_secs(15), "ended after {waited:?}");
    let report = session.wait();
    // Either the ENet timeout or the missing audio pings (both 10 s) ended it, with the reason.
    assert!(
        report.end == "client disconnected" || report.end.starts_with("no audio ping"),
        "{report:?}"
    );
    for port in [ports.video, ports.audio, ports.control] {
        UdpSocket::bind(("127.0.0.1", port)).expect("port freed");
    }
}
