//! X11 screen capture: MIT-SHM (`ShmGetImage` into a memfd we map) when the server has
//! it, plain `GetImage` otherwise. Produces BGRA frames of a `W×H` region at the origin.

use std::sync::Arc;

use tracing::info;
use x11rb::connection::Connection;
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, Window};
use x11rb::rust_connection::RustConnection;

use super::{Pacer, SourceError, VideoSource};
use crate::clock::Clock;
use crate::frame::{PixelFormat, VideoFrame, VideoMode};

fn err(e: impl std::fmt::Display) -> SourceError {
    SourceError::Capture(e.to_string())
}

/// A shared mapping of a memfd that the X server writes images into.
struct ShmMap {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; it is only read through `&self`
// after the server's reply arrived, and unmapped once in Drop.
unsafe impl Send for ShmMap {}

impl ShmMap {
    /// Creates a memfd of `len` bytes and maps it; returns the map and the fd to hand over.
    fn new(len: usize) -> Result<(Self, std::os::fd::OwnedFd), SourceError> {
        use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
        use rustix::mm::{MapFlags, ProtFlags, mmap};
        let fd = memfd_create("pf-xshm", MemfdFlags::CLOEXEC).map_err(err)?;
        ftruncate(&fd, len as u64).map_err(err)?;
        // SAFETY: mapping a fresh memfd of exactly `len` bytes; no other mapping aliases it
        // in this process and the pointer is checked non-null below.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(err)?;
        let ptr = std::ptr::NonNull::new(p.cast::<u8>()).ok_or_else(|| err("mmap null"))?;
        Ok((Self { ptr, len }, fd))
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr/len describe a live mapping owned by self (see `new`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for ShmMap {
    fn drop(&mut self) {
        // SAFETY: unmapping the region mapped in `new`, exactly once.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Captures the top-left `W×H` of an X11 screen.
pub struct X11Source {
    conn: RustConnection,
    root: Window,
    screen: (u32, u32),
    mode: VideoMode,
    clock: Arc<dyn Clock>,
    pacer: Option<Pacer>,
    shm: Option<(shm::Seg, ShmMap)>,
    frame_number: u64,
}

impl X11Source {
    /// Connects to `display` (e.g. `":99"`; `None` = `$DISPLAY`) and captures `mode` from
    /// the screen's origin. `paced` waits for each frame's due time.
    pub fn connect(
        display: Option<&str>,
        mode: VideoMode,
        clock: Arc<dyn Clock>,
        paced: bool,
    ) -> Result<Self, SourceError> {
        let (conn, screen_num) = x11rb::connect(display).map_err(err)?;
        let screen = &conn.setup().roots[screen_num];
        let (root, sw, sh) = (
            screen.root,
            screen.width_in_pixels as u32,
            screen.height_in_pixels as u32,
        );
        if screen.root_depth != 24 && screen.root_depth != 32 {
            return Err(err(format!("unsupported root depth {}", screen.root_depth)));
        }
        let mut me = Self {
            conn,
            root,
            screen: (sw, sh),
            mode,
            clock,
            pacer: paced.then(|| Pacer::new(mode.fps)),
            shm: None,
            frame_number: 0,
        };
        me.set_mode(mode)?;
        let shown = display.unwrap_or("$DISPLAY");
        info!(
            "x11 capture: {}x{} of {sw}x{sh} on {}, {}",
            mode.width,
            mode.height,
            shown,
            if me.shm.is_some() {
                "MIT-SHM"
            } else {
                "GetImage (no MIT-SHM fd passing)"
            }
        );
        Ok(me)
    }

    /// Switches to plain `GetImage` (the fallback path, also for tests).
    pub fn disable_shm(&mut self) {
        if let Some((seg, _)) = self.shm.take() {
            let _ = self.conn.shm_detach(seg);
        }
    }

    /// Whether frames come through MIT-SHM.
    pub fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    fn setup_shm(&mut self) -> Result<(), SourceError> {
        let v = self
            .conn
            .shm_query_version()
            .map_err(err)?
            .reply()
            .map_err(err)?;
        if (v.major_version, v.minor_version) < (1, 2) {
            return Err(err("MIT-SHM < 1.2 (no fd passing)"));
        }
        let len = self.mode.width as usize * self.mode.height as usize * 4;
        let (map, fd) = ShmMap::new(len)?;
        let seg = self.conn.generate_id().map_err(err)?;
        self.conn
            .shm_attach_fd(seg, fd, false)
            .map_err(err)?
            .check()
            .map_err(err)?;
        if let Some((old, _)) = self.shm.replace((seg, map)) {
            let _ = self.conn.shm_detach(old);
        }
        Ok(())
    }
}

impl VideoSource for X11Source {
    fn mode(&self) -> VideoMode {
        self.mode
    }

    fn pixel_format(&self) -> PixelFormat {
        PixelFormat::Bgra
    }

    fn set_mode(&mut self, mode: VideoMode) -> Result<(), SourceError> {
        if mode.width > self.screen.0 || mode.height > self.screen.1 || mode.fps == 0 {
            return Err(SourceError::UnsupportedMode(
                mode,
                format!("screen is {}x{}", self.screen.0, self.screen.1),
            ));
        }
        if mode.fps != self.mode.fps && self.pacer.is_some() {
            self.pacer = Some(Pacer::new(mode.fps));
        }
        self.mode = mode;
        if let Err(e) = self.setup_shm() {
            tracing::debug!("MIT-SHM unavailable: {e}");
            if let Some((old, _)) = self.shm.take() {
                let _ = self.conn.shm_detach(old);
            }
        }
        Ok(())
    }

    fn next_frame(&mut self, frame: &mut VideoFrame) -> Result<(), SourceError> {
        if let Some(p) = &mut self.pacer {
            self.frame_number += p.wait();
        }
        let VideoMode { width, height, .. } = self.mode;
        let ts = self.clock.now_ns();
        frame.reshape(width, height, PixelFormat::Bgra);
        let len = frame.data.len();
        match &self.shm {
            Some((seg, map)) => {
                self.conn
                    .shm_get_image(
                        self.root,
                        0,
                        0,
                        width as u16,
                        height as u16,
                        !0,
                        ImageFormat::Z_PIXMAP.into(),
                        *seg,
                        0,
                    )
                    .map_err(err)?
                    .reply()
                    .map_err(err)?;
                frame.data.copy_from_slice(&map.as_slice()[..len]);
            }
            None => {
                let img = self
                    .conn
                    .get_image(
                        ImageFormat::Z_PIXMAP,
                        self.root,
                        0,
                        0,
                        width as u16,
                        height as u16,
                        !0,
                    )
                    .map_err(err)?
                    .reply()
                    .map_err(err)?;
                if img.data.len() < len {
                    return Err(err(format!("short image: {} < {len}", img.data.len())));
                }
                frame.data.copy_from_slice(&img.data[..len]);
            }
        }
        frame.capture_ts_ns = ts;
        frame.frame_number = self.frame_number;
        self.frame_number += 1;
        Ok(())
    }
}

impl Drop for X11Source {
    fn drop(&mut self) {
        if let Some((seg, _)) = self.shm.take() {
            let _ = self.conn.shm_detach(seg);
            let _ = self.conn.flush();
        }
    }
}
