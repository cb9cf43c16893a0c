//! PulseAudio capture: a private daemon with a null sink, a known tone played into it with
//! `pacat`, captured from `vsink.monitor` and found again by frequency; then through Opus.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use punktfunk_media::audio::analysis::{channel, dominant_frequency, rms};
use punktfunk_media::audio::opus::{OpusDecoder, OpusEncoder, OpusLayout};
use punktfunk_media::audio::pulse::PulseSource;
use punktfunk_media::audio::{AudioFrame, AudioSource, SAMPLE_RATE};
use punktfunk_media::clock::MonotonicClock;
use punktfunk_media::headless::{PulseDaemon, which};

/// Kills the player even when the test fails.
struct Player(std::process::Child);
impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn captures_a_tone_from_the_null_sink_monitor() {
    if which("pacat").is_none() {
        eprintln!("SKIP: pacat not installed");
        return;
    }
    let pulse = match PulseDaemon::start() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("SKIP: {e}");
            return;
        }
    };
    // 3 s of a 1234 Hz tone on the left channel, 2345 Hz on the right, raw float stereo.
    let (fl, fr) = (1234.0f32, 2345.0f32);
    let mut raw = Vec::new();
    for i in 0..SAMPLE_RATE as usize * 3 {
        let t = i as f32 / SAMPLE_RATE as f32;
        for f in [fl, fr] {
            raw.extend_from_slice(
                &((2.0 * std::f32::consts::PI * f * t).sin() * 0.5).to_le_bytes(),
            );
        }
    }
    let mut src = PulseSource::connect(
        Some(&pulse.server()),
        Some("vsink.monitor"),
        2,
        5,
        Arc::new(MonotonicClock),
    )
    .unwrap();
    let mut child = pulse
        .command("pacat")
        .args([
            "--playback",
            "--device=vsink",
            "--format=float32le",
            "--rate=48000",
            "--channels=2",
            "--raw",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _player = Player(child);
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&raw);
    });

    // Read up to 4 s until a block of 200 ms carries the tone.
    let mut f = AudioFrame::default();
    let mut window = Vec::new();
    let mut found = None;
    let t0 = punktfunk_media::clock::monotonic_ns();
    for _ in 0..400 {
        src.read(&mut f, 480).unwrap();
        assert_eq!(f.channels, 2);
        assert_eq!(f.samples.len(), 960);
        assert!(f.capture_ts_ns >= t0.saturating_sub(1_000_000_000));
        window.extend_from_slice(&f.samples);
        if window.len() >= 9600 * 2 {
            let l = channel(&window, 2, 0);
            let r = channel(&window, 2, 1);
            if rms(&l) > 0.1 && rms(&r) > 0.1 {
                found = Some((
                    dominant_frequency(&l, SAMPLE_RATE, 100.0, 5000.0),
                    dominant_frequency(&r, SAMPLE_RATE, 100.0, 5000.0),
                    window.clone(),
                ));
                break;
            }
            window.clear();
        }
    }
    let _ = writer.join();
    let (gl, gr, pcm) = found.expect("tone never reached the monitor");
    assert!((gl - fl).abs() <= 3.0, "left {gl}");
    assert!((gr - fr).abs() <= 3.0, "right {gr}");

    // The captured audio survives the GameStream stereo Opus path.
    let layout = OpusLayout::gamestream(2, false).unwrap();
    let mut enc = OpusEncoder::new(&layout, 5).unwrap();
    let mut dec = OpusDecoder::new(&layout).unwrap();
    let (mut pkt, mut out, mut decoded) = ([0u8; 1400], vec![0f32; 480], Vec::new());
    let mut sizes = std::collections::BTreeSet::new();
    for block in pcm.chunks_exact(480) {
        let n = enc.encode(block, &mut pkt).unwrap();
        sizes.insert(n);
        dec.decode(&pkt[..n], &mut out).unwrap();
        decoded.extend_from_slice(&out);
    }
    assert_eq!(sizes.len(), 1, "CBR: {sizes:?}");
    let tail = &decoded[decoded.len() / 2..];
    let gl = dominant_frequency(&channel(tail, 2, 0), SAMPLE_RATE, 100.0, 5000.0);
    assert!((gl - fl).abs() <= 3.0, "after Opus: {gl}");
}
