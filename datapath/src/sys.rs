//! Safe wrappers over the socket system calls the socket engines use.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Scratch space for `sendmmsg(2)`: one `mmsghdr` and one `iovec` per datagram, allocated once.
pub struct MmsgScratch {
    hdrs: Box<[libc::mmsghdr]>,
    iovs: Box<[libc::iovec]>,
}

// SAFETY: the raw pointers inside are only set and used within `send`, while the borrowed
// buffers are alive; between calls they are dangling but never dereferenced.
unsafe impl Send for MmsgScratch {}

impl MmsgScratch {
    /// Room for batches of up to `n` datagrams.
    pub fn new(n: usize) -> Self {
        // SAFETY: mmsghdr and iovec are plain C structs for which all-zero is a valid value.
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Self {
            hdrs: vec![zero_hdr; n].into_boxed_slice(),
            iovs: vec![zero_iov; n].into_boxed_slice(),
        }
    }

    /// Capacity in datagrams.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Sends `lens.len()` datagrams from `arena` (datagram `i` at `i * stride`, `lens[i]` bytes)
    /// on the connected socket `fd`, one `sendmmsg` call. Returns how many the kernel took.
    pub fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        arena: &[u8],
        stride: usize,
        lens: &[usize],
    ) -> io::Result<usize> {
        let n = lens.len().min(self.hdrs.len());
        for (i, &len) in lens[..n].iter().enumerate() {
            let slot = &arena[i * stride..i * stride + len];
            self.iovs[i] = libc::iovec {
                iov_base: slot.as_ptr() as *mut libc::c_void,
                iov_len: slot.len(),
            };
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_name = std::ptr::null_mut();
            h.msg_hdr.msg_namelen = 0;
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: hdrs[..n] point at iovs[..n], which point into `arena`; all are borrowed
        // for the duration of the call and the kernel only reads them.
        let r = unsafe { libc::sendmmsg(fd.as_raw_fd(), self.hdrs.as_mut_ptr(), n as u32, 0) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }
}

/// True for errors a sender retries: the kernel's queues are momentarily full.
pub fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::EINTR)
    )
}

/// Reads one datagram without blocking: `Ok(None)` when none is waiting.
pub fn recv_dontwait(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
) -> io::Result<Option<(usize, std::net::SocketAddr)>> {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut alen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: buf and addr are valid for writes of the sizes passed.
    let r = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
            &mut addr as *mut _ as *mut libc::sockaddr,
            &mut alen,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(e)
        };
    }
    let from = match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET); storage is large and
            // aligned enough for it.
            let a = unsafe { &*(&addr as *const _ as *const libc::sockaddr_in) };
            std::net::SocketAddr::from((
                std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(&addr as *const _ as *const libc::sockaddr_in6) };
            std::net::SocketAddr::from((
                std::net::Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
            ))
        }
        _ => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
    };
    Ok(Some((r as usize, from)))
}
