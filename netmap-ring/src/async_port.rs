//! An async port for tokio (feature `tokio`): waits on the port's
//! descriptor through `AsyncFd`, with the need-kick protocol netmap's own
//! `poll` follows (sync, arm, sync again, then sleep), and batch helpers
//! that move frames without allocating per frame.
//!
//! ```no_run
//! # async fn echo(port: netmap_ring::port::Port) -> Result<(), netmap_ring::port::SyncError> {
//! let mut port = netmap_ring::async_port::AsyncPort::new(port).expect("tokio runtime");
//! let mut frames = netmap_ring::async_port::FrameBatch::with_capacity(256);
//! loop {
//!     port.recv_batch(&mut frames, 256).await?;
//!     port.send_batch(frames.iter()).await?;
//! }
//! # }
//! ```

use std::io;

use tokio::io::unix::AsyncFd;

use crate::abi::NS_MOREFRAG;
use crate::port::{Interest, Port, SyncError};
use crate::ring;

/// A [`Port`] registered with the tokio reactor of the current runtime.
pub struct AsyncPort {
    fd: AsyncFd<Port>,
}

/// Frames received in one batch, kept in one buffer: the storage grows to
/// the largest batch seen and is reused, so a steady stream allocates
/// nothing per frame.
#[derive(Debug, Default)]
pub struct FrameBatch {
    bytes: Vec<u8>,
    /// End offset of each frame in `bytes`.
    ends: Vec<usize>,
}

impl FrameBatch {
    /// Room for `frames` frames of up to 2 KiB before any growth.
    pub fn with_capacity(frames: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(frames * 2048),
            ends: Vec::with_capacity(frames),
        }
    }

    /// Frames in the batch.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Frame `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }

    /// The frames, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

/// True when a bound RX ring shows frames the application has not taken.
fn rx_pending(port: &Port) -> bool {
    (0..port.rx_rings()).any(|n| {
        let ring = port.rx_ring(n);
        let cur = ring.cur();
        cur < ring.num_slots() && !ring::empty(cur, ring.tail())
    })
}

impl AsyncPort {
    /// Registers `port`'s descriptor with the current tokio runtime (fails
    /// outside one).
    pub fn new(port: Port) -> io::Result<Self> {
        // SAFETY: the descriptor is the binding's wake-up fd, owned by the
        // binding inside `port`, which the AsyncFd owns: it stays open and
        // the same for as long as the AsyncFd holds the port, and
        // `Port::as_raw_fd` always returns it.
        let fd = unsafe { AsyncFd::register_with_interest(port, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Self { fd })
    }

    pub fn get_ref(&self) -> &Port {
        self.fd.get_ref()
    }

    pub fn get_mut(&mut self) -> &mut Port {
        self.fd.get_mut()
    }

    /// The port back, out of the reactor.
    pub fn into_inner(self) -> Port {
        self.fd.into_inner()
    }

    /// Waits until `interest` is ready: an RX ring has frames, or a TX ring
    /// room. Syncs as netmap's `poll` does; never blocks the thread.
    pub async fn ready(&self, interest: Interest) -> Result<Interest, SyncError> {
        let port = self.fd.get_ref();
        loop {
            if let Some(ready) = port.sync_and_check(interest)? {
                return Ok(ready);
            }
            // Arm, then look again: a change between the check above and
            // the arm would otherwise be missed (only armed ports are
            // kicked).
            port.arm();
            if let Some(ready) = port.sync_and_check(interest)? {
                port.disarm();
                return Ok(ready);
            }
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| SyncError::Gone(e.to_string()))?;
            // Disarm drains the descriptor: tokio must wait for the next
            // edge.
            port.disarm();
            guard.clear_ready();
        }
    }

    /// Waits until an RX ring has frames.
    pub async fn readable(&self) -> Result<(), SyncError> {
        self.ready(Interest {
            tx: false,
            rx: true,
        })
        .await
        .map(|_| ())
    }

    /// Waits until a TX ring has room.
    pub async fn writable(&self) -> Result<(), SyncError> {
        self.ready(Interest {
            tx: true,
            rx: false,
        })
        .await
        .map(|_| ())
    }

    /// Waits for frames, then takes up to `max` of them (at least one) into
    /// `batch`, replacing what it held, and releases their slots with one
    /// rxsync (a pipe's sender waiting for room resumes). A MOREFRAG chain
    /// is one frame.
    pub async fn recv_batch(
        &mut self,
        batch: &mut FrameBatch,
        max: usize,
    ) -> Result<usize, SyncError> {
        // Fast path, as a busy receiver: frames already visible, or after
        // one rxsync. The readiness protocol (txsync, arm, sleep) runs
        // only when neither shows any.
        let port = self.fd.get_ref();
        if !rx_pending(port) {
            port.rxsync()?;
            if !rx_pending(port) {
                self.readable().await?;
            }
        }
        batch.clear();
        let port = self.fd.get_mut();
        let buf_size = port.buf_size() as usize;
        for n in 0..port.rx_rings() {
            let ring = port.rx_ring(n);
            let slots = ring.num_slots();
            let tail = ring.tail();
            let mut cur = ring.cur();
            if cur >= slots {
                continue;
            }
            while batch.len() < max && !ring::empty(cur, tail) {
                loop {
                    let slot = ring.slot(cur);
                    let len = usize::from(slot.len).min(buf_size);
                    if let Some(off) = port.layout().buffers.offset(slot.buf_idx) {
                        let start = batch.bytes.len();
                        batch.bytes.resize(start + len, 0);
                        let _ = port.region().read_bytes(off, &mut batch.bytes[start..]);
                    }
                    cur = ring::next(cur, slots);
                    if slot.flags & NS_MOREFRAG == 0 || ring::empty(cur, tail) {
                        break;
                    }
                }
                batch.ends.push(batch.bytes.len());
            }
            ring.set_head(cur);
            ring.set_cur(cur);
        }
        port.rxsync()?;
        Ok(batch.len())
    }

    /// Sends `frames`, waiting for room as needed, with one txsync per
    /// ringful. Frames longer than a buffer are skipped. Returns how many
    /// were sent.
    pub async fn send_batch<'a>(
        &mut self,
        frames: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, SyncError> {
        let mut sent = 0;
        let mut queued = 0;
        for frame in frames {
            if frame.len() > self.fd.get_ref().buf_size() as usize {
                continue;
            }
            while !self.fd.get_mut().inject(frame) {
                if queued > 0 {
                    self.fd.get_ref().txsync()?;
                    queued = 0;
                }
                self.writable().await?;
            }
            queued += 1;
            sent += 1;
        }
        if queued > 0 {
            self.fd.get_ref().txsync()?;
        }
        Ok(sent)
    }
}
