//! A minimal AF_XDP receive socket for the tests (copy mode, one queue): enough to register
//! in the steering program's XSK map and to see which frames land in its RX ring.
//! The real datapath sockets live in punktfunk-datapath.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

const FRAME: usize = 4096;
const FRAMES: usize = 16;
const RING: u32 = 16;

/// An AF_XDP socket bound to one queue of one interface, with a UMEM whose frames all sit in
/// the fill ring.
pub struct Xsk {
    fd: Option<OwnedFd>,
    umem: *mut u8,
    rx_map: (*mut u8, usize),
    fill_map: (*mut u8, usize),
    rx_off: libc::xdp_ring_offset,
    rx_consumed: u32,
}

// SAFETY: the mappings are owned by this value and only touched through &mut self / &self.
unsafe impl Send for Xsk {}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

fn setsockopt<T>(fd: RawFd, opt: libc::c_int, val: &T, what: &str) -> io::Result<()> {
    // SAFETY: val points to a live T of the given size for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            (val as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    check(rc, what)
}

fn map_ring(fd: RawFd, len: usize, pgoff: u64) -> io::Result<*mut u8> {
    // SAFETY: a fresh shared mapping of the socket's ring; checked for MAP_FAILED below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_POPULATE,
            fd,
            pgoff as libc::off_t,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

impl Xsk {
    /// Creates the socket and binds it to `queue` of `ifindex` in copy mode (in the calling
    /// thread's network namespace).
    pub fn bind(ifindex: u32, queue: u32) -> io::Result<Self> {
        // SAFETY: plain socket(2); the result is checked and owned right away.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW, 0) };
        check(raw, "socket(AF_XDP)")?;
        // SAFETY: raw is a fresh, valid descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let len = FRAME * FRAMES;
        // SAFETY: anonymous private mapping, checked below.
        let umem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if umem == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut me = Self {
            fd: Some(fd),
            umem: umem.cast(),
            rx_map: (std::ptr::null_mut(), 0),
            fill_map: (std::ptr::null_mut(), 0),
            // SAFETY: a plain-integer struct; all zeroes is valid.
            rx_off: unsafe { std::mem::zeroed() },
            rx_consumed: 0,
        };
        let fd = me.as_raw_fd();
        let reg = libc::xdp_umem_reg {
            addr: umem as u64,
            len: len as u64,
            chunk_size: FRAME as u32,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(fd, libc::XDP_UMEM_REG, &reg, "XDP_UMEM_REG")?;
        setsockopt(fd, libc::XDP_UMEM_FILL_RING, &RING, "XDP_UMEM_FILL_RING")?;
        setsockopt(
            fd,
            libc::XDP_UMEM_COMPLETION_RING,
            &RING,
            "XDP_UMEM_COMPLETION_RING",
        )?;
        setsockopt(fd, libc::XDP_RX_RING, &RING, "XDP_RX_RING")?;
        // SAFETY: a plain-integer struct; all zeroes is valid.
        let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        let mut optlen = size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: off and optlen are live and sized for the kernel to write into.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                (&mut off as *mut libc::xdp_mmap_offsets).cast(),
                &mut optlen,
            )
        };
        check(rc, "XDP_MMAP_OFFSETS")?;
        let rx_len = off.rx.desc as usize + RING as usize * size_of::<libc::xdp_desc>();
        me.rx_map = (
            map_ring(fd, rx_len, libc::XDP_PGOFF_RX_RING as u64)?,
            rx_len,
        );
        me.rx_off = off.rx;
        let fill_len = off.fr.desc as usize + RING as usize * 8;
        me.fill_map = (
            map_ring(fd, fill_len, libc::XDP_UMEM_PGOFF_FILL_RING)?,
            fill_len,
        );
        // Hand every frame to the kernel.
        // SAFETY: desc..desc+RING*8 lies inside the fill ring mapping; producer is a u32
        // inside it, shared with the kernel and so accessed atomically.
        unsafe {
            let descs = me.fill_map.0.add(off.fr.desc as usize).cast::<u64>();
            for i in 0..FRAMES.min(RING as usize) {
                descs.add(i).write((i * FRAME) as u64);
            }
            let prod = &*me
                .fill_map
                .0
                .add(off.fr.producer as usize)
                .cast::<AtomicU32>();
            prod.store(FRAMES.min(RING as usize) as u32, Ordering::Release);
        }
        let sa = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: libc::XDP_COPY,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: sa is a live sockaddr_xdp of the given size.
        let rc = unsafe {
            libc::bind(
                fd,
                (&sa as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        check(rc, "bind(AF_XDP)")?;
        Ok(me)
    }

    /// Takes every frame the kernel has put into the RX ring since the last call.
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        // SAFETY: producer/consumer are u32 inside the RX ring mapping, shared with the
        // kernel; descriptors at desc + i*16 lie inside it (i masked by RING-1); each
        // descriptor's addr+len lies inside the UMEM (the kernel wrote it).
        unsafe {
            let base = self.rx_map.0;
            let prod = &*base.add(self.rx_off.producer as usize).cast::<AtomicU32>();
            let cons = &*base.add(self.rx_off.consumer as usize).cast::<AtomicU32>();
            let end = prod.load(Ordering::Acquire);
            while self.rx_consumed != end {
                let d = base
                    .add(self.rx_off.desc as usize)
                    .cast::<libc::xdp_desc>()
                    .add((self.rx_consumed & (RING - 1)) as usize)
                    .read();
                let frame =
                    std::slice::from_raw_parts(self.umem.add(d.addr as usize), d.len as usize);
                out.push(frame.to_vec());
                self.rx_consumed = self.rx_consumed.wrapping_add(1);
            }
            cons.store(self.rx_consumed, Ordering::Release);
        }
        out
    }
}

impl AsRawFd for Xsk {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }
}

impl Drop for Xsk {
    fn drop(&mut self) {
        // Close the socket first so the kernel stops writing into the rings and the UMEM.
        drop(self.fd.take());
        // SAFETY: each mapping was created by this value with exactly this length and is
        // no longer referenced.
        unsafe {
            for (p, len) in [self.rx_map, self.fill_map] {
                if !p.is_null() {
                    libc::munmap(p.cast(), len);
                }
            }
            libc::munmap(self.umem.cast(), FRAME * FRAMES);
        }
    }
}
