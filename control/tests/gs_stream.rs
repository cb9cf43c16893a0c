//! A GameStream stream session over real sockets on loopback, with the client's side played
//! by this test: UDP pings on the video and audio ports, ENet with the encrypted control
//! stream, video and audio reassembled with the core depacketizers (FEC recovery included),
//! input reaching the input sink, and termination at the end.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use punktfunk_control::gamestream::nvhttp::query::LaunchParams;
use punktfunk_control::gamestream::session::{LaunchSession, Ports, StreamStart};
use punktfunk_control::gamestream::stream::{
    AudioFeed, EncodedVideo, InputSink, StreamOptions, StreamSession, VideoFeed,
};
use punktfunk_core::gamestream::audio::{AudioConfig, AudioDepacketizer, AudioEvent, AudioKey};
use punktfunk_core::gamestream::control::{ControlCipher, Direction, IvMode, types};
use punktfunk_core::gamestream::input::emit_input_packet;
use punktfunk_core::gamestream::rtsp::StreamConfig;
use punktfunk_core::gamestream::video::{FrameType, VideoConfig, VideoDepacketizer, VideoEvent};
use punktfunk_core::input::{InputEvent, KeyEvent, Modifiers};
use rusty_enet::{EventNoRef, Host, HostSettings, Packet};

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

struct TestInput(mpsc::Sender<InputEvent>);

impl InputSink for TestInput {
    fn inject(&mut self, event: InputEvent) {
        let _ = self.0.send(event);
    }
}

fn announce(encryption: u32) -> StreamConfig {
    let packet_size = if encryption & 2 != 0 { 1360 } else { 1392 };
    let attrs = [
        "x-ml-general.featureFlags:3".to_string(),
        format!("x-ss-general.encryptionEnabled:{encryption}"),
        "x-ss-video[0].chromaSamplingType:0".into(),
        "x-nv-video[0].clientViewportWd:1920".into(),
        "x-nv-video[0].clientViewportHt:1080".into(),
        "x-nv-video[0].maxFPS:60".into(),
        format!("x-nv-video[0].packetSize:{packet_size}"),
        "x-nv-video[0].rateControlMode:4".into(),
        "x-nv-vqos[0].bw.maximumBitrateKbps:16000".into(),
        "x-ml-video.configuredBitrateKbps:20000".into(),
        "x-nv-general.featureFlags:167".into(),
        "x-nv-general.useReliableUdp:13".into(),
        "x-nv-vqos[0].fec.minRequiredFecPackets:2".into(),
        "x-nv-video[0].videoEncoderSlicesPerFrame:1".into(),
        "x-nv-clientSupportHevc:0".into(),
        "x-nv-vqos[0].bitStreamFormat:0".into(),
        "x-nv-video[0].dynamicRangeMode:0".into(),
        "x-nv-video[0].maxNumReferenceFrames:0".into(),
        "x-nv-video[0].clientRefreshRateX100:6000".into(),
        "x-nv-audio.surround.numChannels:2".into(),
        "x-nv-audio.surround.channelMask:3".into(),
        "x-nv-audio.surround.enable:0".into(),
        "x-nv-audio.surround.AudioQuality:0".into(),
        "x-nv-aqos.packetDuration:5".into(),
        "x-nv-video[0].encoderCscMode:2".into(),
    ];
    let mut body =
        String::from("v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n");
    for a in attrs {
        body.push_str(&format!("a={a} \r\n"));
    }
    body.push_str("t=0 0\r\nm=video 47998  \r\n");
    StreamConfig::parse(body.as_bytes()).expect("ANNOUNCE parses")
}

fn free_ports() -> Ports {
    for _ in 0..50 {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        let Some(p) = Ports::from_base(base) else {
            continue;
        };
        let free = [p.video, p.audio, p.control]
            .iter()
            .all(|&port| UdpSocket::bind(("127.0.0.1", port)).is_ok());
        if free {
            return p;
        }
    }
    panic!("no free ports");
}

fn stream_start(config: StreamConfig, ports: Ports) -> StreamStart {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let session = LaunchSession {
        params: LaunchParams {
            appid: 1,
            mode: None,
            rikey: RIKEY,
            rikeyid: RIKEYID,
            local_audio: false,
            surround_audio_info: 0x0003_0002,
            sops: false,
            hdr: false,
            corever: 1,
            controllers: 1,
        },
        appid: 1,
        client_fingerprint: [0; 32],
        client_ip: ip,
        ping_payload: PING.into(),
        connect_data: CONNECT_DATA,
        created: Instant::now(),
        rtsp_seq: 0,
        setup: [true; 3],
        config: Some(config),
        high_quality_audio: false,
    };
    StreamStart {
        session,
        config,
        client_ip: ip,
        rtsp_peer: SocketAddr::new(ip, 1),
        ports,
    }
}

/// Sends session pings every 50 ms from `socket` to `to` until `stop`.
fn pinger(socket: UdpSocket, to: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let mut p = PING.as_bytes().to_vec();
            p.extend_from_slice(&n.to_be_bytes());
            let _ = socket.send_to(&p, to);
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

fn run_session(encryption: u32) {
    let ports = free_ports();
    let config = announce(encryption);
    let start = stream_start(config, ports);
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
        TestInput(input_tx),
    )
    .expect("session starts");

    // ENet: the control stream, as Moonlight opens it.
    let epoch = Instant::now();
    let mut enet = Host::new(
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        HostSettings {
            peer_limit: 1,
            channel_limit: 48,
            time: Box::new(move || epoch.elapsed()),
            ..HostSettings::default()
        },
    )
    .unwrap();
    let peer = enet
        .connect(
            SocketAddr::from(([127, 0, 0, 1], ports.control)),
            48,
            CONNECT_DATA,
        )
        .unwrap()
        .id();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "ENet connect timed out");
        if let Some(ev) = enet.service().unwrap() {
            assert!(
                matches!(ev.no_ref(), EventNoRef::Connect { .. }),
                "control stream refused"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let cipher = ControlCipher::new(&RIKEY, IvMode::V2);
    let mut seq = 0u32;
    let mut send = |enet: &mut Host<UdpSocket>, ch: u8, t: u16, payload: &[u8]| {
        let mut out = vec![0u8; ControlCipher::sealed_len(payload.len())];
        let n = cipher
            .seal(Direction::ClientToHost, seq, t, payload, &mut out)
            .unwrap();
        seq += 1;
        enet.peer_mut(peer)
            .send(ch, &Packet::reliable(&out[..n]))
            .unwrap();
        enet.flush();
    };
    send(&mut enet, 0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
    send(&mut enet, 0, types::client::START_B, &[0]);

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
    while frames.len() + (lost as usize) < FRAMES as usize && Instant::now() < deadline {
        let _ = enet.service();
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
            let key = InputEvent::Key(KeyEvent {
                vk: 0x41,
                pressed: true,
                modifiers: Modifiers::SHIFT,
                non_normalized: false,
            });
            let mut b = [0u8; 64];
            let n = emit_input_packet(&key, &mut b).unwrap();
            send(&mut enet, 2, types::client::INPUT_DATA, &b[..n]);
            send(&mut enet, 1, types::client::REQUEST_IDR_FRAME, &[0, 0]);
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
    let ev = input_rx
        .recv_timeout(Duration::from_secs(2))
        .expect("input reached the sink");
    assert!(matches!(
        ev,
        InputEvent::Key(KeyEvent {
            vk: 0x41,
            pressed: true,
            ..
        })
    ));
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

    // Host ends the session: the client gets the termination message.
    let report = session.stop(types::termination::GRACEFUL);
    stop_ping.store(true, Ordering::Relaxed);
    let mut terminated = false;
    let end = Instant::now() + Duration::from_secs(3);
    while !terminated && Instant::now() < end {
        if let Some(EventNoRef::Receive { packet, .. }) =
            enet.service().unwrap().map(|e| e.no_ref())
        {
            let mut scratch = [0u8; 64];
            let m = cipher
                .open(Direction::HostToClient, packet.data(), &mut scratch)
                .unwrap();
            terminated = m.msg_type == types::host::TERMINATION;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(terminated, "termination message received");
    assert_eq!(report.video_frames, u64::from(FRAMES));
    assert!(report.idr_requests >= 2, "{report:?}");
    assert_eq!(report.input_events, 1);
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
