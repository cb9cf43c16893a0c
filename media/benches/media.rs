//! Media benchmarks (a plain bench binary; `cargo bench -p punktfunk-media --bench media`).
//!
//! 1. Software encode rate and per-frame encode latency (BGRA→YUV conversion + encode) at
//!    1080p60 and 4K60: libx264 vs libx265, both ultrafast + zerolatency, same run.
//! 2. Capture→encoded latency p50/p99 through the threaded pipeline (paced source →
//!    encoder thread → channel) for the synthetic source and X11 capture of a private Xvfb.
//!
//! `PF_BENCH_QUICK=1` shortens every run (smoke test).

use std::sync::Arc;
use std::time::{Duration, Instant};

use punktfunk_media::clock::{Clock, MonotonicClock, monotonic_ns};
use punktfunk_media::encode::ffmpeg::{FfmpegEncoder, has_encoder};
use punktfunk_media::encode::thread::VideoPipeline;
use punktfunk_media::encode::{Codec, EncoderConfig};
use punktfunk_media::frame::{PixelFormat, VideoFrame, VideoMode};
use punktfunk_media::headless::Xvfb;
use punktfunk_media::source::VideoSource;
use punktfunk_media::source::synthetic::SyntheticSource;
use punktfunk_media::source::x11::X11Source;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn quick() -> bool {
    std::env::var_os("PF_BENCH_QUICK").is_some()
}

struct EncodeResult {
    fps: f64,
    p50_ms: f64,
    p99_ms: f64,
    convert_p50_ms: f64,
    mean_kb: f64,
}

fn encode_rate(name: &str, codec: Codec, mode: VideoMode, frames: usize) -> Option<EncodeResult> {
    if !has_encoder(name) {
        println!("  {name}: not in this FFmpeg, skipped");
        return None;
    }
    let bitrate = (mode.width as u64 * mode.height as u64 * mode.fps as u64) / 10; // ~12 Mbit/s at 1080p60
    let mut enc = FfmpegEncoder::open(name, &EncoderConfig::new(codec, mode, bitrate)).ok()?;
    // Pre-render distinct frames so pattern drawing is not measured.
    let mut src = SyntheticSource::new(mode, Arc::new(MonotonicClock), false).unwrap();
    let ring: Vec<VideoFrame> = (0..8)
        .map(|_| {
            let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
            src.next_frame(&mut f).unwrap();
            f
        })
        .collect();
    // Warm up (first IDR, lookahead allocation).
    for f in ring.iter().take(3) {
        enc.encode(f, |_| {}).unwrap();
    }
    let mut lat = Vec::with_capacity(frames);
    let mut conv = Vec::with_capacity(frames);
    let mut bytes = 0usize;
    let t0 = Instant::now();
    for i in 0..frames {
        let mut f = ring[i % ring.len()].clone();
        f.frame_number = i as u64;
        let s = Instant::now();
        enc.encode(&f, |e| bytes += e.bytes.len()).unwrap();
        lat.push(s.elapsed().as_secs_f64() * 1e3);
        conv.push(enc.last_conversion_time().as_secs_f64() * 1e3);
    }
    let secs = t0.elapsed().as_secs_f64();
    Some(EncodeResult {
        fps: frames as f64 / secs,
        p50_ms: pct(&mut lat, 0.5),
        p99_ms: pct(&mut lat, 0.99),
        convert_p50_ms: pct(&mut conv, 0.5),
        mean_kb: bytes as f64 / frames as f64 / 1024.0,
    })
}

fn pipeline_latency(
    source: Box<dyn VideoSource>,
    mode: VideoMode,
    secs: f64,
) -> (f64, f64, u64, u64) {
    let cfg = EncoderConfig::new(Codec::H264, mode, 10_000_000);
    let enc = FfmpegEncoder::open("libx264", &cfg).unwrap();
    let (pipe, rx) = VideoPipeline::start(source, enc, 2, 16);
    let mut lat = Vec::new();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        if let Ok(f) = rx.recv_timeout(Duration::from_secs(2)) {
            lat.push((monotonic_ns() - f.capture_ts_ns) as f64 / 1e6);
        }
    }
    let dropped = pipe
        .stats()
        .dropped_input
        .load(std::sync::atomic::Ordering::Relaxed);
    drop(pipe);
    let n = lat.len() as u64;
    (pct(&mut lat, 0.5), pct(&mut lat, 0.99), n, dropped)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let q = quick();
    println!("## software encode: BGRA→YUV420 + encode, ultrafast/zerolatency, CBR ~w·h·fps/10");
    for (mode, frames) in [
        (VideoMode::new(1920, 1080, 60), if q { 10 } else { 120 }),
        (VideoMode::new(3840, 2160, 60), if q { 4 } else { 30 }),
    ] {
        println!(
            "{}x{}@{}, {frames} frames:",
            mode.width, mode.height, mode.fps
        );
        let x264 = encode_rate("libx264", Codec::H264, mode, frames);
        let x265 = encode_rate("libx265", Codec::Hevc, mode, frames.max(4) / 2);
        for (n, r) in [("libx264", &x264), ("libx265", &x265)] {
            if let Some(r) = r {
                println!(
                    "  {n}: {:.1} fps, per-frame p50 {:.2} ms p99 {:.2} ms (of which BGRA→YUV p50 {:.2} ms), {:.1} KiB/frame",
                    r.fps, r.p50_ms, r.p99_ms, r.convert_p50_ms, r.mean_kb
                );
            }
        }
        if let (Some(a), Some(b)) = (&x264, &x265) {
            println!("  ratio x264/x265 fps: {:.2}x", a.fps / b.fps);
        }
    }

    println!("## capture→encoded latency (libx264 1280x720@60 10 Mbit/s, pipeline threads)");
    let mode = VideoMode::new(1280, 720, 60);
    let secs = if q { 1.0 } else { 5.0 };
    let syn = SyntheticSource::new(mode, Arc::new(MonotonicClock), true).unwrap();
    let (p50, p99, n, d) = pipeline_latency(Box::new(syn), mode, secs);
    println!(
        "  synthetic: p50 {p50:.2} ms p99 {p99:.2} ms ({n} frames, {d} dropped at the encoder queue)"
    );
    match Xvfb::start(mode.width, mode.height) {
        Ok(x) => {
            // Keep the screen changing: a box moves every 16 ms.
            let display = x.display().to_string();
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop2 = stop.clone();
            let painter = std::thread::spawn(move || painter(&display, &stop2));
            let src = X11Source::connect(Some(x.display()), mode, Arc::new(MonotonicClock), true)
                .unwrap();
            let shm = src.uses_shm();
            let (x50, x99, n, d) = pipeline_latency(Box::new(src), mode, secs);
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = painter.join();
            println!(
                "  x11 ({}): p50 {x50:.2} ms p99 {x99:.2} ms ({n} frames, {d} dropped)",
                if shm { "MIT-SHM" } else { "GetImage" }
            );
            println!("  ratio x11/synthetic p50: {:.2}x", x50 / p50);
        }
        Err(e) => println!("  x11: skipped ({e})"),
    }
    let _ = MonotonicClock.now_ns();
}

fn painter(display: &str, stop: &std::sync::atomic::AtomicBool) {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{ChangeGCAux, ConnectionExt, CreateGCAux, Rectangle};
    let (conn, n) = x11rb::connect(Some(display)).unwrap();
    let s = &conn.setup().roots[n];
    let (root, w, h) = (s.root, s.width_in_pixels, s.height_in_pixels);
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    let mut i = 0u16;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        conn.change_gc(gc, &ChangeGCAux::new().foreground(0x303030))
            .unwrap();
        conn.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x: 0,
                y: 0,
                width: w,
                height: h,
            }],
        )
        .unwrap();
        conn.change_gc(gc, &ChangeGCAux::new().foreground(0xffffff))
            .unwrap();
        let x = (i * 8) % (w - 100);
        conn.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x: x as i16,
                y: 200,
                width: 100,
                height: 100,
            }],
        )
        .unwrap();
        conn.flush().unwrap();
        i = i.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(16));
    }
}
