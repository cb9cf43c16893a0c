//! The Moonlight checklist (gamestream-protocol.md §10) end to end against the GameStream
//! service of `punktfunk-host`, on loopback, with a real x264 encoder behind it: pair with a
//! PIN, serverinfo, applist, launch, encrypted RTSP, ENet control with encryption, video
//! (some datagrams dropped, FEC repairs them) decoded with FFmpeg, audio decrypted and decoded
//! with Opus, every kind of request reaching its target, and cancel ending the stream.

#[path = "../../control/tests/common/mod.rs"]
mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{Client, RtspClient};
use punktfunk_control::gamestream::stream::InputSink;
use punktfunk_control::gamestream::stream::loopback::{ClientParams, ControlClient, announce_body};
use punktfunk_core::gamestream::audio::{AudioConfig, AudioDepacketizer, AudioEvent, AudioKey};
use punktfunk_core::gamestream::control::types;
use punktfunk_core::gamestream::input::emit_input_packet;
use punktfunk_core::gamestream::video::{FrameType, VideoConfig, VideoDepacketizer, VideoEvent};
use punktfunk_core::input::{InputEvent, MouseButton};
use punktfunk_datapath::select::EngineConfig;
use punktfunk_host::gamestream::{GameStreamService, GameStreamSettings};
use punktfunk_media::audio::opus::{OpusDecoder, OpusLayout};
use punktfunk_media::encode::Codec;
use punktfunk_media::encode::decode::VideoDecoder;

const DESKTOP: u32 = 881_448_767;

struct Recorder(mpsc::Sender<InputEvent>);

impl InputSink for Recorder {
    fn inject(&mut self, event: InputEvent) {
        let _ = self.0.send(event);
    }
}

fn start_service(dir: &std::path::Path, input: mpsc::Sender<InputEvent>) -> GameStreamService {
    let input = Arc::new(std::sync::Mutex::new(input));
    for _ in 0..40 {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        let settings = GameStreamSettings {
            bind: "127.0.0.1".parse().unwrap(),
            base_port: base,
            state_dir: dir.to_owned(),
            hostname: "e2e".into(),
            engines: EngineConfig::sockets(),
            input: {
                let input = input.clone();
                Arc::new(move || Box::new(Recorder(input.lock().unwrap().clone())))
            },
            mdns: None,
        };
        if let Ok(s) = GameStreamService::start(&settings, Arc::new(AtomicBool::new(false))) {
            return s;
        }
    }
    panic!("no free base port");
}

#[test]
fn moonlight_checklist_with_real_encoder() {
    if !punktfunk_media::encode::ffmpeg::has_encoder("libx264") {
        eprintln!("SKIPPED: this FFmpeg has no libx264");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (input_tx, input_rx) = mpsc::channel();
    let svc = start_service(dir.path(), input_tx);
    let host = svc.host();
    let p = host.ports();

    // Steps 2–9: serverinfo, pairing with the PIN, paired HTTPS serverinfo.
    let mut client = Client::new("E2E0123456789ABC");
    let outcome = client.pair(host, "5931", "5931", false);
    assert_eq!(outcome.phase5_paired, Some(true), "{outcome:?}");
    let r = client.https_get(p.https, "/serverinfo?uniqueid=x");
    assert_eq!(r.el("PairStatus").as_deref(), Some("1"));
    // Step 10: applist.
    let r = client.https_get(p.https, "/applist?uniqueid=x");
    assert!(r.text().contains("Desktop"), "{}", r.text());
    // Step 11: launch.
    let rikey: [u8; 16] = rand::random();
    let rikeyid = 0x1122_3344i32;
    let r = client.https_get(
        p.https,
        &format!(
            "/launch?{}",
            client.launch_query(DESKTOP, &rikey, rikeyid, 1)
        ),
    );
    assert_eq!(r.status_code(), Some(200), "{}", r.text());
    let url = r.el("sessionUrl0").unwrap();
    assert!(url.starts_with("rtspenc://"), "{url}");

    // Steps 12–18: RTSP, encrypted.
    let mut rtsp = RtspClient::from_url(&url, &rikey);
    let target = format!("rtsp://{}", rtsp.addr);
    assert_eq!(rtsp.request("OPTIONS", &target, &[], b"").status, 200);
    assert_eq!(
        rtsp.request("DESCRIBE", &target, &[("Accept", "application/sdp")], b"")
            .status,
        200
    );
    let transport = ("Transport", "unicast;X-GS-ClientPort=50000-50001");
    let r = rtsp.request("SETUP", "streamid=audio/0/0", &[transport], b"");
    let session = r
        .header("Session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let ping = r.header("X-SS-Ping-Payload").unwrap().to_owned();
    rtsp.request(
        "SETUP",
        "streamid=video/0/0",
        &[("Session", &session), transport],
        b"",
    );
    let r = rtsp.request(
        "SETUP",
        "streamid=control/13/0",
        &[("Session", &session), transport],
        b"",
    );
    let connect: u32 = r.header("X-SS-Connect-Data").unwrap().parse().unwrap();
    let r = rtsp.request(
        "ANNOUNCE",
        "streamid=control/13/0",
        &[("Session", &session), ("Content-type", "application/sdp")],
        announce_body(&ClientParams {
            encryption: 5,
            width: 640,
            height: 360,
            fps: 30,
            bitrate_kbps: 4000,
        })
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        rtsp.request("PLAY", "/", &[("Session", &session)], b"")
            .status,
        200
    );

    // Step 19–20: ENet with 48 channels and the connect data; IDR request + start B.
    let mut enet = ControlClient::connect(
        SocketAddr::from(([127, 0, 0, 1], p.control)),
        connect,
        &rikey,
    )
    .expect("control stream admitted");
    enet.send(0, types::client::REQUEST_IDR_FRAME, &[0, 0]);
    enet.send(0, types::client::START_B, &[0]);

    // Steps 21–22: pings from the sockets that receive video and audio.
    let video = UdpSocket::bind("127.0.0.1:0").unwrap();
    let audio = UdpSocket::bind("127.0.0.1:0").unwrap();
    video.set_nonblocking(true).unwrap();
    audio.set_nonblocking(true).unwrap();
    let ping_bytes = |n: u32| {
        let mut b = ping.as_bytes().to_vec();
        b.extend_from_slice(&n.to_be_bytes());
        b
    };
    let mut depack = VideoDepacketizer::new(VideoConfig {
        packet_size: 1392,
        fec_percentage: 20,
        min_required_fec_packets: 2,
        encryption_key: None,
    })
    .unwrap();
    let mut adepack = AudioDepacketizer::new(AudioConfig {
        packet_duration_ms: 5,
        encryption: Some(AudioKey {
            key: rikey,
            key_id: rikeyid as u32,
        }),
    });
    let mut decoder = VideoDecoder::new(Codec::H264).unwrap();
    let layout = OpusLayout::gamestream(2, false).unwrap();
    let mut opus = OpusDecoder::new(&layout).unwrap();
    let mut pcm = vec![0f32; 480 * 2];
    let (mut decoded, mut key_pictures, mut idr_frames, mut lost, mut recovered) = (0, 0, 0, 0, 0);
    let (mut audio_ok, mut audio_energy) = (0, 0f64);
    let mut first_type = None;
    let mut datagrams = 0u64;
    let mut buf = [0u8; 2048];
    let mut n_ping = 0;
    let mut asked_idr_at = None;
    let mut sent_input = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(25) {
        if start.elapsed().as_millis() / 100 >= n_ping {
            n_ping += 1;
            video
                .send_to(
                    &ping_bytes(n_ping as u32),
                    SocketAddr::from(([127, 0, 0, 1], p.video)),
                )
                .unwrap();
            audio
                .send_to(
                    &ping_bytes(n_ping as u32),
                    SocketAddr::from(([127, 0, 0, 1], p.audio)),
                )
                .unwrap();
        }
        let _ = enet.poll_message();
        let mut got = false;
        while let Ok((n, _)) = video.recv_from(&mut buf) {
            got = true;
            datagrams += 1;
            if datagrams.is_multiple_of(17) {
                continue; // lost on the way: FEC repairs it
            }
            let mut frames = Vec::new();
            let _ = depack.handle_datagram(&buf[..n], |ev| match ev {
                VideoEvent::Frame(f) => {
                    recovered += f.recovered_shards;
                    frames.push((f.header.frame_type, f.data.to_vec()));
                }
                VideoEvent::Lost { first, last } => lost += last - first + 1,
                VideoEvent::Corrupt {
                    frame_index,
                    reason,
                } => panic!("frame {frame_index}: {reason}"),
            });
            for (ftype, data) in frames {
                first_type.get_or_insert(ftype);
                if ftype == FrameType::Idr {
                    idr_frames += 1;
                }
                decoder
                    .decode(&data, |pic| {
                        decoded += 1;
                        assert_eq!((pic.width, pic.height), (640, 360));
                        if pic.key {
                            key_pictures += 1;
                        }
                    })
                    .expect("the stream decodes");
            }
        }
        while let Ok((n, _)) = audio.recv_from(&mut buf) {
            got = true;
            let mut packets = Vec::new();
            let _ = adepack.handle_datagram(&buf[..n], |ev| {
                if let AudioEvent::Packet { opus, .. } = ev {
                    packets.push(opus.to_vec());
                }
            });
            for pkt in packets {
                let samples = opus.decode(&pkt, &mut pcm).expect("Opus decodes");
                audio_ok += 1;
                audio_energy += pcm[..samples * 2]
                    .iter()
                    .map(|s| f64::from(s * s))
                    .sum::<f64>();
            }
        }
        // Step 23/26: input once the stream runs; a second IDR request later.
        if decoded >= 10 && !sent_input {
            sent_input = true;
            let click = InputEvent::Button {
                button: MouseButton::Left,
                pressed: true,
            };
            let mut b = [0u8; 64];
            let n = emit_input_packet(&click, &mut b).unwrap();
            enet.send(3, types::client::INPUT_DATA, &b[..n]);
            enet.send(1, types::client::REQUEST_IDR_FRAME, &[0, 0]);
            asked_idr_at = Some(decoded);
        }
        if asked_idr_at.is_some() && idr_frames >= 2 && decoded >= 30 && audio_ok >= 50 {
            break;
        }
        if !got {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    eprintln!(
        "decoded {decoded} pictures ({key_pictures} key, {idr_frames} IDR frames), {datagrams} video \
         datagrams, {recovered} shards recovered, {lost} frames lost, {audio_ok} audio packets"
    );
    assert_eq!(
        first_type,
        Some(FrameType::Idr),
        "the first frame is an IDR"
    );
    assert!(decoded >= 30, "decoded {decoded} pictures");
    assert!(
        key_pictures >= 2,
        "the IDR request produced a key frame ({key_pictures})"
    );
    assert!(idr_frames >= 2, "{idr_frames} IDR frames");
    assert_eq!(lost, 0, "no frame lost at 1/17 loss with FEC");
    assert!(recovered > 0, "FEC repaired the dropped datagrams");
    assert!(audio_ok >= 50, "{audio_ok} audio packets");
    assert!(audio_energy > 1.0, "the tone is audible after decode");
    let ev = input_rx
        .recv_timeout(Duration::from_secs(2))
        .expect("input reached the sink");
    assert_eq!(
        ev,
        InputEvent::Button {
            button: MouseButton::Left,
            pressed: true
        }
    );

    // Step 27: the client quits the app: /cancel ends the stream with the termination message.
    let r = client.https_get(p.https, "/cancel?uniqueid=x");
    assert_eq!(r.el("cancel").as_deref(), Some("1"), "{}", r.text());
    let end = Instant::now() + Duration::from_secs(5);
    let mut terminated = false;
    while !terminated && Instant::now() < end {
        if let Some(m) = enet.poll_message() {
            terminated =
                m.msg_type == types::host::TERMINATION && m.payload == 0x8003_0023u32.to_be_bytes();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(terminated, "termination 0x80030023 after /cancel");
    svc.shutdown();
}
