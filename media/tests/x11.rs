//! X11 capture under a private Xvfb: draw a known picture (stamp + coloured boxes) with
//! X11 itself, capture it through MIT-SHM and GetImage, read it back, and push a capture
//! through the encoder.

use std::sync::Arc;

use punktfunk_media::clock::ManualClock;
use punktfunk_media::frame::{PixelFormat, VideoFrame, VideoMode};
use punktfunk_media::headless::Xvfb;
use punktfunk_media::source::VideoSource;
use punktfunk_media::source::stamp::{Stamp, draw_stamp, read_stamp_frame};
use punktfunk_media::source::x11::X11Source;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateGCAux, Rectangle};

fn xvfb(w: u32, h: u32) -> Option<Xvfb> {
    match Xvfb::start(w, h) {
        Ok(x) => Some(x),
        Err(e) => {
            eprintln!("SKIP: {e}");
            None
        }
    }
}

/// Paints `rects` (x, y, w, h, 0xRRGGBB) onto the root window and waits for the server.
fn paint(display: &str, rects: &[(i16, i16, u16, u16, u32)]) {
    let (conn, n) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[n].root;
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
    for &(x, y, width, height, rgb) in rects {
        conn.change_gc(
            gc,
            &x11rb::protocol::xproto::ChangeGCAux::new().foreground(rgb),
        )
        .unwrap();
        conn.poly_fill_rectangle(
            root,
            gc,
            &[Rectangle {
                x,
                y,
                width,
                height,
            }],
        )
        .unwrap();
    }
    conn.get_input_focus().unwrap().reply().unwrap(); // round trip: drawing is done
}

fn known_picture(display: &str, w: u32, h: u32, stamp: &Stamp) {
    let mut rects = vec![
        (0, 0, w as u16, h as u16, 0x202020),
        (400, 200, 50, 40, 0xff0000),
        (500, 250, 30, 30, 0x00ff00),
    ];
    draw_stamp(w, h, stamp, |x, y, bw, bh, white| {
        rects.push((
            x as i16,
            y as i16,
            bw as u16,
            bh as u16,
            if white { 0xffffff } else { 0 },
        ))
    });
    paint(display, &rects);
}

fn bgra_at(f: &VideoFrame, x: usize, y: usize) -> [u8; 4] {
    f.data[y * f.stride + x * 4..][..4].try_into().unwrap()
}

#[test]
fn captures_known_picture_via_shm_and_getimage() {
    let (w, h) = (640, 360);
    let Some(x) = xvfb(w, h) else { return };
    let stamp = Stamp {
        frame_number: 4242,
        capture_ts_ns: 987_654_321,
    };
    known_picture(x.display(), w, h, &stamp);
    let clock = ManualClock::new(555);
    let mut src = X11Source::connect(
        Some(x.display()),
        VideoMode::new(w, h, 60),
        Arc::new(clock.clone()),
        false,
    )
    .unwrap();
    assert!(src.uses_shm(), "Xvfb offers MIT-SHM 1.2");
    let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
    for path in ["shm", "getimage"] {
        if path == "getimage" {
            src.disable_shm();
            assert!(!src.uses_shm());
        }
        src.next_frame(&mut f).unwrap();
        assert_eq!((f.width, f.height, f.format), (w, h, PixelFormat::Bgra));
        assert_eq!(f.capture_ts_ns, 555);
        assert_eq!(read_stamp_frame(&f), Some(stamp), "{path}");
        assert_eq!(
            &bgra_at(&f, 420, 220)[..3],
            &[0, 0, 0xff],
            "{path}: red box (BGRA)"
        );
        assert_eq!(
            &bgra_at(&f, 510, 260)[..3],
            &[0, 0xff, 0],
            "{path}: green box"
        );
        assert_eq!(
            &bgra_at(&f, 630, 350)[..3],
            &[0x20, 0x20, 0x20],
            "{path}: background"
        );
    }
    assert_eq!(f.frame_number, 1);
    // Changes on screen show up in the next capture.
    paint(x.display(), &[(400, 200, 50, 40, 0x0000ff)]);
    src.next_frame(&mut f).unwrap();
    assert_eq!(&bgra_at(&f, 420, 220)[..3], &[0xff, 0, 0]);
    // A region larger than the screen is refused.
    assert!(src.set_mode(VideoMode::new(1280, 720, 60)).is_err());
}

#[test]
fn x11_capture_survives_encoding() {
    use punktfunk_media::encode::decode::VideoDecoder;
    use punktfunk_media::encode::ffmpeg::{FfmpegEncoder, has_encoder};
    use punktfunk_media::encode::{Codec, EncoderConfig};
    if !has_encoder("libx264") {
        eprintln!("SKIP: no libx264");
        return;
    }
    let (w, h) = (640, 360);
    let Some(x) = xvfb(w, h) else { return };
    let mode = VideoMode::new(w, h, 60);
    let mut src = X11Source::connect(
        Some(x.display()),
        mode,
        Arc::new(ManualClock::new(0)),
        false,
    )
    .unwrap();
    let mut enc =
        FfmpegEncoder::open("libx264", &EncoderConfig::new(Codec::H264, mode, 4_000_000)).unwrap();
    let mut dec = VideoDecoder::new(Codec::H264).unwrap();
    let mut f = VideoFrame::new(1, 1, PixelFormat::Bgra);
    let mut decoded = Vec::new();
    for i in 0..5u32 {
        let stamp = Stamp {
            frame_number: i,
            capture_ts_ns: 1_000 * i as u64,
        };
        known_picture(x.display(), w, h, &stamp);
        src.next_frame(&mut f).unwrap();
        let mut out = Vec::new();
        enc.encode(&f, |e| out.push(e)).unwrap();
        for e in out {
            dec.decode(&e.bytes, |d| decoded.push(d.stamp)).unwrap();
        }
    }
    dec.flush(|d| decoded.push(d.stamp)).unwrap();
    let want: Vec<_> = (0..5u32)
        .map(|i| {
            Some(Stamp {
                frame_number: i,
                capture_ts_ns: 1_000 * i as u64,
            })
        })
        .collect();
    assert_eq!(decoded, want);
}
