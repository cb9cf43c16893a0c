//! The control stream: the client's first bidirectional stream, carrying `u16`-framed
//! messages both ways (punktfunk/1 §2.3–§2.4).

use punktfunk_core::native::control::Wire;
use punktfunk_core::native::control::framing::{FrameReader, push_framed};
use quinn_proto::{Connection, Dir, ReadError, StreamId, WriteError};

/// Buffered, framed reading and writing on one bidirectional QUIC stream.
#[derive(Debug, Default)]
pub struct ControlStream {
    id: Option<StreamId>,
    reader: FrameReader,
    out: Vec<u8>,
    finish_requested: bool,
    finished: bool,
    peer_finished: bool,
    failed: bool,
}

impl ControlStream {
    /// A stream not yet opened or accepted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the stream exists.
    pub fn is_open(&self) -> bool {
        self.id.is_some()
    }

    /// Server side: accepts the client's first bidirectional stream if there is one.
    pub fn accept(&mut self, conn: &mut Connection) -> bool {
        if self.id.is_none() {
            self.id = conn.streams().accept(Dir::Bi);
        }
        self.id.is_some()
    }

    /// Client side: opens the control stream.
    pub fn open(&mut self, conn: &mut Connection) -> bool {
        if self.id.is_none() {
            self.id = conn.streams().open(Dir::Bi);
        }
        self.id.is_some()
    }

    /// Queues a framed message.
    pub fn send<W: Wire + ?Sized>(&mut self, msg: &W) {
        if push_framed(msg, &mut self.out).is_err() {
            self.failed = true;
        }
    }

    /// Finishes the send side once everything queued is written.
    pub fn finish(&mut self) {
        self.finish_requested = true;
    }

    /// Whether the peer finished its send side (or reset it).
    pub fn peer_finished(&self) -> bool {
        self.peer_finished
    }

    /// Whether a write or encode failed (the stream is unusable).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Moves bytes: reads everything readable into the frame reader and writes what is queued.
    pub fn pump(&mut self, conn: &mut Connection) {
        let Some(id) = self.id else { return };
        if !self.peer_finished {
            let mut recv = conn.recv_stream(id);
            match recv.read(true) {
                Ok(mut chunks) => {
                    loop {
                        match chunks.next(usize::MAX) {
                            Ok(Some(chunk)) => self.reader.push(&chunk.bytes),
                            Ok(None) => {
                                self.peer_finished = true;
                                break;
                            }
                            Err(ReadError::Blocked) => break,
                            Err(ReadError::Reset(_)) => {
                                self.peer_finished = true;
                                break;
                            }
                        }
                    }
                    let _ = chunks.finalize();
                }
                Err(_) => self.peer_finished = true,
            }
        }
        if !self.out.is_empty() {
            match conn.send_stream(id).write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(WriteError::Blocked) => {}
                Err(_) => self.failed = true,
            }
        }
        if self.out.is_empty() && self.finish_requested && !self.finished {
            self.finished = true;
            let _ = conn.send_stream(id).finish();
        }
    }

    /// The next complete message payload received.
    pub fn next_frame(&mut self) -> Option<&[u8]> {
        self.reader.next_frame()
    }
}
