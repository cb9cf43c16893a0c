//! UMEM: the packet memory shared with the kernel, cut into equal frames.
//!
//! Frames are owned either by us (on the engine's free list, or reserved by a batch) or by the
//! kernel (between TX submit and completion). The engine's bookkeeping keeps the two apart; we
//! only ever hand out slices of frames we own.

use std::io;
use std::os::fd::BorrowedFd;

use super::sys::{self, Mmap};

/// The registered packet memory.
pub struct Umem {
    map: Mmap,
    frame_size: u32,
    frames: u32,
}

impl Umem {
    /// Allocates `frames` frames of `frame_size` bytes (a power of two, 2048 or 4096).
    pub fn new(frames: u32, frame_size: u32) -> io::Result<Self> {
        let map = Mmap::anonymous(frames as usize * frame_size as usize)?;
        Ok(Self {
            map,
            frame_size,
            frames,
        })
    }

    /// Registers the memory with an AF_XDP socket (`XDP_UMEM_REG`).
    pub fn register(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let reg = libc::xdp_umem_reg {
            addr: self.map.as_ptr() as u64,
            len: self.map.len() as u64,
            chunk_size: self.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        sys::set_opt(fd, libc::XDP_UMEM_REG, &reg)
    }

    /// Number of frames.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Bytes per frame.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// UMEM address of frame `i`.
    pub fn addr(&self, i: u32) -> u64 {
        u64::from(i) * u64::from(self.frame_size)
    }

    /// The whole frame at `addr` (a frame start), writable. The caller must own the frame
    /// (not submitted to the kernel); `&mut self` rules out overlapping borrows on our side.
    pub fn frame_mut(&mut self, addr: u64) -> &mut [u8] {
        let start = addr as usize;
        assert!(
            addr.is_multiple_of(u64::from(self.frame_size)) && start < self.map.len(),
            "bad UMEM frame address {addr}"
        );
        // SAFETY: the range lies inside the mapping (checked above) and `&mut self` gives
        // exclusive access on our side; the kernel touches only frames it was handed.
        unsafe {
            std::slice::from_raw_parts_mut(self.map.as_ptr().add(start), self.frame_size as usize)
        }
    }

    /// `len` bytes at `addr` (anywhere inside one frame), read-only; `None` when out of range.
    /// For frames the kernel handed back on the RX ring.
    pub fn bytes(&self, addr: u64, len: u32) -> Option<&[u8]> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len as usize)?;
        let frame_end = (start / self.frame_size as usize + 1) * self.frame_size as usize;
        if end > self.map.len() || end > frame_end {
            return None;
        }
        // SAFETY: the range lies inside the mapping (checked); the frame belongs to us until
        // it is returned on the fill ring.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), len as usize) })
    }
}
