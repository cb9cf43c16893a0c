//! GameStream session throughput on loopback: a synthetic encoded stream at a given mode and
//! bitrate goes through a real stream session (GF(2⁸) FEC, optional AES-GCM, pacing, the
//! datapath's socket engines) to a receiver that reassembles every frame with the core
//! depacketizer. Prints frames sent/received/lost and the host's processing time per frame.
//!
//! ```text
//! cargo run --release -p punktfunk-control --example gs_loopback_bench -- \
//!     --width 1920 --height 1080 --fps 60 --mbps 150 --seconds 10
//! ```

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use punktfunk_control::gamestream::stream::loopback::{self, ClientParams, LaunchKeys};
use punktfunk_control::gamestream::stream::{
    AudioFeed, EncodedVideo, InputSink, StreamOptions, StreamSession, VideoFeed,
};
use punktfunk_core::gamestream::control::types::termination;
use punktfunk_core::gamestream::video::{VideoConfig, VideoDepacketizer, VideoEvent};
use punktfunk_core::input::InputEvent;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 1920)]
    width: u32,
    #[arg(long, default_value_t = 1080)]
    height: u32,
    #[arg(long, default_value_t = 60)]
    fps: u32,
    /// Video bitrate in Mbit/s (frames are bitrate / fps bytes, a 4× IDR every second).
    #[arg(long, default_value_t = 150)]
    mbps: u32,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Encrypt video (AES-GCM) as well as control and audio.
    #[arg(long)]
    encrypt_video: bool,
}

struct Synthetic {
    fps: u32,
    bytes: usize,
    n: u64,
    start: Instant,
    idr: bool,
    end: Instant,
}

impl VideoFeed for Synthetic {
    fn next_frame(&mut self) -> Option<EncodedVideo> {
        let due = self.start + Duration::from_secs_f64(self.n as f64 / f64::from(self.fps));
        if due > self.end {
            return None;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let idr = std::mem::take(&mut self.idr) || self.n.is_multiple_of(u64::from(self.fps));
        let len = if idr { self.bytes * 4 } else { self.bytes };
        let n = self.n;
        self.n += 1;
        Some(EncodedVideo {
            data: (0..len).map(|i| (i as u64 ^ n) as u8 | 1).collect(),
            idr,
            captured: Instant::now(),
        })
    }
    fn request_idr(&mut self) {
        self.idr = true;
    }
}

struct Silence(Instant);

impl AudioFeed for Silence {
    fn next_packet(&mut self) -> Option<Vec<u8>> {
        if Instant::now() > self.0 {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
        Some(vec![0xfc; 60])
    }
}

struct NoInput;

impl InputSink for NoInput {
    fn inject(&mut self, _: InputEvent) {}
}

fn main() {
    let a = Args::parse();
    let encryption = if a.encrypt_video { 7 } else { 5 };
    let params = ClientParams {
        encryption,
        width: a.width,
        height: a.height,
        fps: a.fps,
        bitrate_kbps: a.mbps * 1000,
    };
    let config = loopback::announce(&params);
    let ports = loopback::free_ports().expect("free ports");
    let keys = LaunchKeys {
        rikey: [7; 16],
        rikeyid: 1,
        ping_payload: "0123456789ABCDEF".into(),
        connect_data: 1,
    };
    let start = loopback::stream_start(config, ports, &keys);
    let bytes = (u64::from(a.mbps) * 1_000_000 / 8 / u64::from(a.fps)) as usize;
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(a.seconds);
    let opts = StreamOptions {
        bind_ip: "127.0.0.1".parse().unwrap(),
        // Loopback: pace within the frame interval only, not at a NIC's rate.
        link_bps: 0,
        ..StreamOptions::default()
    };
    let session = StreamSession::start(
        &start,
        &opts,
        Synthetic {
            fps: a.fps,
            bytes,
            n: 0,
            start: t0,
            idr: false,
            end,
        },
        Silence(end),
        NoInput,
    )
    .expect("session");

    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let video = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = nix::sys::socket::setsockopt(&video, nix::sys::socket::sockopt::RcvBuf, &(32 << 20));
    video
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let audio = UdpSocket::bind("127.0.0.1:0").unwrap();
    let vaddr = SocketAddr::from(([127, 0, 0, 1], ports.video));
    let aaddr = SocketAddr::from(([127, 0, 0, 1], ports.audio));
    let pinger = {
        let (v, au, stop) = (
            video.try_clone().unwrap(),
            audio.try_clone().unwrap(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let _ = v.send_to(&loopback::ping("0123456789ABCDEF", n), vaddr);
                let _ = au.send_to(&loopback::ping("0123456789ABCDEF", n), aaddr);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut depack = VideoDepacketizer::new(VideoConfig {
        packet_size: config.packet_size as usize,
        fec_percentage: 20,
        min_required_fec_packets: 2,
        encryption_key: a.encrypt_video.then_some(keys.rikey),
    })
    .unwrap();
    let (mut frames, mut lost, mut corrupt, mut bytes_in) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 2048];
    let mut last_report = Instant::now();
    while Instant::now() < end + Duration::from_millis(500) {
        match video.recv_from(&mut buf) {
            Ok((n, _)) => {
                bytes_in += n as u64;
                let _ = depack.handle_datagram(&buf[..n], |ev| match ev {
                    VideoEvent::Frame(_) => frames += 1,
                    VideoEvent::Lost { first, last } => lost += u64::from(last - first + 1),
                    VideoEvent::Corrupt { .. } => corrupt += 1,
                });
            }
            Err(_) => continue,
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            eprintln!(
                "  {:>4.1} s: {frames} frames, {lost} lost, {:.2} Gbit/s on the wire",
                t0.elapsed().as_secs_f64(),
                bytes_in as f64 * 8.0 / t0.elapsed().as_secs_f64() / 1e9
            );
        }
    }
    received.store(frames, Ordering::Relaxed);
    let report = session.stop(termination::GRACEFUL);
    stop.store(true, Ordering::Relaxed);
    pinger.join().unwrap();
    let t = report.timings;
    println!(
        "| {}x{}@{} | {} Mbit/s | {} | {} | {} | {} | {} / {} µs | {} / {} µs |",
        a.width,
        a.height,
        a.fps,
        a.mbps,
        if a.encrypt_video { "AES-GCM" } else { "plain" },
        report.video_frames,
        frames,
        lost + corrupt,
        t.packetize_p50_us,
        t.packetize_p99_us,
        t.out_p50_us,
        t.out_p99_us,
    );
}
