//! The user-facing `Port` API, over a [`Backend`].
//!
//! A backend plays the part of netmap's kernel module: it registers a port
//! (`NIOCREGIF`), runs `txsync`/`rxsync` (`NIOCTXSYNC`/`NIOCRXSYNC`) and
//! wakes waiters. The software engine is one backend; device-backed ones
//! (simulator, vfio-user, the board) implement the same two traits, so an
//! application written against [`Port`] runs on any of them unchanged.
//!
//! The application side follows `netmap_user.h` and libnetmap: rings are
//! reached with [`Port::tx_ring`]/[`Port::rx_ring`] (views into shared
//! memory), and `inject`, `dispatch` and `next_packet` are the pcap-like
//! helpers of `nm_inject`/`nm_dispatch`/`nm_nextpkt`.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::abi::{NetmapSlot, NR_NO_TX_POLL, NS_MOREFRAG};
use crate::name::{NameError, PortName};
use crate::ring::{self, RingError};
use crate::shm::SharedRegion;
use crate::view::RingView;

/// One ring of a binding: its id within the port and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingSpec {
    /// Ring number within the port (the `N` of `-N`).
    pub id: u32,
    /// Region offset of the ring header.
    pub offset: usize,
    /// Slots in the ring.
    pub num_slots: u32,
}

/// Where a binding's buffers are: buffer `i` is `buf_size` bytes at
/// `base + i * buf_size`, for `i < num_bufs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferPool {
    pub base: usize,
    pub buf_size: u32,
    pub num_bufs: u32,
}

impl BufferPool {
    /// Region offset of buffer `index`, or `None` for an index that is not
    /// a buffer (0 and 1 exist but are reserved; they are still readable).
    #[inline]
    pub fn offset(&self, index: u32) -> Option<usize> {
        (index < self.num_bufs).then(|| self.base + index as usize * self.buf_size as usize)
    }
}

/// What registration hands the application: its memory and its rings.
#[derive(Clone, Debug)]
pub struct BindingLayout {
    pub region: Arc<SharedRegion>,
    /// Region offset of this binding's netmap_if.
    pub if_offset: usize,
    /// The bound TX rings, in ring-id order.
    pub tx_rings: Vec<RingSpec>,
    /// The bound RX rings, in ring-id order.
    pub rx_rings: Vec<RingSpec>,
    pub buffers: BufferPool,
    /// `NR_*` register flags in force (e.g. `NR_NO_TX_POLL`).
    pub nr_flags: u64,
}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("bad port name: {0}")]
    Name(#[from] NameError),
    #[error("{name}: {what} is not supported by the {backend} backend")]
    Unsupported {
        name: String,
        backend: &'static str,
        what: String,
    },
    #[error("{name}: port is busy (already bound by process {owner})")]
    Busy { name: String, owner: u32 },
    #[error("{name}: switch {switch} is full ({max} ports)")]
    SwitchFull {
        name: String,
        switch: String,
        max: u32,
    },
    #[error("{name}: invalid configuration: {why}")]
    Config { name: String, why: String },
    #[error("{name}: out of memory: {why}")]
    NoMemory { name: String, why: String },
    #[error("{name}: permission denied: {why}")]
    Permission { name: String, why: String },
    #[error("{name}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a sync failed. The ring has been reinitialised when this is
/// returned for bad indexes, as netmap does.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("ring {ring}: {source}; ring reinitialised")]
    BadRing {
        ring: u32,
        #[source]
        source: RingError,
    },
    #[error("no ring {ring} is bound")]
    NoSuchRing { ring: u32 },
    #[error("port is gone: {0}")]
    Gone(String),
}

/// netmap's kernel side for one registered port.
pub trait Binding: Send + Sync {
    /// The memory and rings of this binding.
    fn layout(&self) -> &BindingLayout;
    /// `NIOCTXSYNC` for TX ring `ring` (an id from `layout().tx_rings`).
    fn txsync(&self, ring: u32) -> Result<(), SyncError>;
    /// `NIOCRXSYNC` for RX ring `ring`.
    fn rxsync(&self, ring: u32) -> Result<(), SyncError>;
    /// A file descriptor that becomes readable after [`Binding::arm`] when
    /// any bound ring may have changed.
    fn wake_fd(&self) -> BorrowedFd<'_>;
    /// Asks to be woken through `wake_fd` at the next change (the host's
    /// need-kick flag of ptnetmap's CSB).
    fn arm(&self);
    /// Withdraws the request and drains `wake_fd`.
    fn disarm(&self);
    /// Frames the engine dropped for this port because its RX rings were
    /// full (for a monitor: the copies it could not keep), since the port
    /// was made; `None` where the backend keeps no such count.
    fn rx_dropped(&self) -> Option<u64> {
        None
    }
}

/// netmap's kernel side: registers ports.
pub trait Backend: Send + Sync {
    /// Short name of the backend (`soft`, `sim`, ...).
    fn kind(&self) -> &'static str;
    /// `NIOCREGIF`: registers `name`, with `extra_bufs` extra buffers.
    fn register(&self, name: &PortName, extra_bufs: u32) -> Result<Box<dyn Binding>, PortError>;
}

/// What [`Port::poll`] waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    /// Room in a TX ring (`POLLOUT`).
    pub tx: bool,
    /// Packets in an RX ring (`POLLIN`).
    pub rx: bool,
}

impl Interest {
    pub const RX: Interest = Interest {
        tx: false,
        rx: true,
    };
    pub const TX: Interest = Interest {
        tx: true,
        rx: false,
    };
    pub const BOTH: Interest = Interest { tx: true, rx: true };
}

/// A packet seen by [`Port::next_packet`] or [`Port::dispatch`]: the RX
/// slot that holds it. The bytes are copied out, since the buffer lives in
/// memory other parties write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// RX ring id.
    pub ring: u32,
    /// The slot.
    pub slot: NetmapSlot,
    /// The frame (a chain of MOREFRAG slots joined).
    pub data: Vec<u8>,
}

/// An open netmap port.
pub struct Port {
    name: PortName,
    binding: Box<dyn Binding>,
    layout: BindingLayout,
    /// Ring rotation of `inject` and `next_packet`, as libnetmap's
    /// `cur_tx_ring` / `cur_rx_ring`.
    next_tx: usize,
    next_rx: usize,
    /// Busy-wait budget of `poll` before sleeping.
    poll_spin: Duration,
}

fn default_poll_spin() -> Duration {
    let micros = std::env::var("NETMAP_RS_POLL_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    Duration::from_micros(micros)
}

impl Port {
    /// Opens `name` on `backend`.
    pub fn open_on(backend: &dyn Backend, name: &str) -> Result<Self, PortError> {
        Self::open_with_extra_bufs(backend, name, 0)
    }

    /// Opens `name` on `backend` with `extra_bufs` extra buffers
    /// (`nr_extra_bufs`), listed from [`Port::extra_bufs_head`].
    pub fn open_with_extra_bufs(
        backend: &dyn Backend,
        name: &str,
        extra_bufs: u32,
    ) -> Result<Self, PortError> {
        let parsed: PortName = name.parse()?;
        Self::open_parsed(backend, parsed, extra_bufs)
    }

    /// Opens an already parsed (or built) name on `backend`: the way to
    /// reach an interface whose name the grammar would split, such as
    /// `eth0-1` or `br.10` (`PortName::netmap("eth0-1")`).
    pub fn open_parsed(
        backend: &dyn Backend,
        parsed: PortName,
        extra_bufs: u32,
    ) -> Result<Self, PortError> {
        let binding = backend.register(&parsed, extra_bufs)?;
        let layout = binding.layout().clone();
        Ok(Self {
            name: parsed,
            binding,
            layout,
            next_tx: 0,
            next_rx: 0,
            poll_spin: default_poll_spin(),
        })
    }

    /// Closes the port (`close(fd)` in netmap): the backend releases its
    /// rings and buffers. Dropping the port does the same.
    pub fn close(self) {
        drop(self);
    }

    /// The parsed name this port was opened with.
    pub fn name(&self) -> &PortName {
        &self.name
    }

    /// The memory region holding this port's netmap_if, rings and buffers.
    pub fn region(&self) -> &Arc<SharedRegion> {
        &self.layout.region
    }

    /// Region offset of the netmap_if (`nr_offset`).
    pub fn if_offset(&self) -> usize {
        self.layout.if_offset
    }

    /// The layout of the binding.
    pub fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    /// Number of bound TX rings.
    pub fn tx_rings(&self) -> usize {
        self.layout.tx_rings.len()
    }

    /// Number of bound RX rings.
    pub fn rx_rings(&self) -> usize {
        self.layout.rx_rings.len()
    }

    fn view(&self, spec: &RingSpec) -> RingView<'_> {
        RingView::new(&self.layout.region, spec.offset, spec.num_slots)
            .expect("backend handed out a ring inside its region")
    }

    /// The `n`th bound TX ring (0-based among bound rings).
    pub fn tx_ring(&self, n: usize) -> RingView<'_> {
        self.view(&self.layout.tx_rings[n])
    }

    /// The `n`th bound RX ring.
    pub fn rx_ring(&self, n: usize) -> RingView<'_> {
        self.view(&self.layout.rx_rings[n])
    }

    /// Region offset of buffer `index`, if it exists.
    pub fn buf_offset(&self, index: u32) -> Option<usize> {
        self.layout.buffers.offset(index)
    }

    /// `nr_buf_size`.
    pub fn buf_size(&self) -> u32 {
        self.layout.buffers.buf_size
    }

    /// Copies `data` into buffer `index`.
    pub fn write_buf(&self, index: u32, data: &[u8]) -> Result<(), crate::shm::ShmError> {
        let off = self.checked_buf(index, data.len())?;
        self.layout.region.write_bytes(off, data)
    }

    /// Copies the first `out.len()` bytes of buffer `index` out.
    pub fn read_buf(&self, index: u32, out: &mut [u8]) -> Result<(), crate::shm::ShmError> {
        let off = self.checked_buf(index, out.len())?;
        self.layout.region.read_bytes(off, out)
    }

    fn checked_buf(&self, index: u32, len: usize) -> Result<usize, crate::shm::ShmError> {
        let pool = &self.layout.buffers;
        match pool.offset(index) {
            Some(off) if len <= pool.buf_size as usize => Ok(off),
            _ => Err(crate::shm::ShmError::OutOfBounds {
                offset: pool.base + index as usize * pool.buf_size as usize,
                size: len,
                region_len: self.layout.region.len(),
            }),
        }
    }

    /// `ni_bufs_head`: the first of the extra buffers, linked through the
    /// first u32 of each (0 ends the list).
    pub fn extra_bufs_head(&self) -> u32 {
        crate::view::if_bufs_head(&self.layout.region, self.layout.if_offset).unwrap_or(0)
    }

    /// Sets `ni_bufs_head` (to give buffers back on close, as netmap).
    pub fn set_extra_bufs_head(&self, head: u32) {
        let _ = self
            .layout
            .region
            .write(self.layout.if_offset + crate::abi::if_off::BUFS_HEAD, head);
    }

    /// `NIOCTXSYNC`: syncs every bound TX ring; returns the first error
    /// after trying them all.
    pub fn txsync(&self) -> Result<(), SyncError> {
        let mut first = Ok(());
        for spec in &self.layout.tx_rings {
            if let Err(e) = self.binding.txsync(spec.id) {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// `NIOCRXSYNC`: syncs every bound RX ring.
    pub fn rxsync(&self) -> Result<(), SyncError> {
        let mut first = Ok(());
        for spec in &self.layout.rx_rings {
            if let Err(e) = self.binding.rxsync(spec.id) {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// Syncs one TX ring by its position among the bound rings.
    pub fn txsync_ring(&self, n: usize) -> Result<(), SyncError> {
        self.binding.txsync(self.layout.tx_rings[n].id)
    }

    /// Syncs one RX ring by its position among the bound rings.
    pub fn rxsync_ring(&self, n: usize) -> Result<(), SyncError> {
        self.binding.rxsync(self.layout.rx_rings[n].id)
    }

    fn ready(&self, interest: Interest) -> Interest {
        let tx = interest.tx
            && (0..self.tx_rings()).any(|n| {
                let r = self.tx_ring(n);
                !ring::empty(r.cur(), r.tail())
            });
        let rx = interest.rx
            && (0..self.rx_rings()).any(|n| {
                let r = self.rx_ring(n);
                !ring::empty(r.cur(), r.tail())
            });
        Interest { tx, rx }
    }

    /// Syncs for `interest` and says what is ready, if anything.
    #[cfg(feature = "tokio")]
    pub(crate) fn sync_and_check(&self, interest: Interest) -> Result<Option<Interest>, SyncError> {
        self.sync_for(interest)?;
        let ready = self.ready(interest);
        Ok((ready.tx || ready.rx).then_some(ready))
    }

    fn sync_for(&self, interest: Interest) -> Result<(), SyncError> {
        let mut result = Ok(());
        if self.layout.nr_flags & NR_NO_TX_POLL == 0 || interest.tx {
            result = result.and(self.txsync());
        }
        if interest.rx {
            result = result.and(self.rxsync());
        }
        result
    }

    /// netmap's `poll()`: syncs (TX unless `NR_NO_TX_POLL`, RX when RX is
    /// asked), then blocks until a bound ring has room (TX) or packets (RX),
    /// or `timeout` passes (`None` waits forever). Returns what is ready.
    pub fn poll(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
    ) -> Result<Interest, SyncError> {
        let started = Instant::now();
        let deadline = timeout.map(|t| started + t);
        let spin_until = started + self.poll_spin.min(timeout.unwrap_or(Duration::MAX));
        loop {
            self.sync_for(interest)?;
            let ready = self.ready(interest);
            if ready.tx || ready.rx {
                return Ok(ready);
            }
            // Spin a little first: a peer on another core usually answers
            // within microseconds, and sleeping costs two system calls and
            // a scheduler round trip.
            if Instant::now() < spin_until {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                continue;
            }
            // Arm, then look again: a change between the check above and
            // the arm would otherwise be missed (the engine kicks only armed
            // ports).
            self.binding.arm();
            self.sync_for(interest)?;
            let ready = self.ready(interest);
            if ready.tx || ready.rx {
                self.binding.disarm();
                return Ok(ready);
            }
            let wait_ms = match deadline {
                None => -1,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        self.binding.disarm();
                        return Ok(Interest::default());
                    }
                    left.as_millis().clamp(1, i32::MAX as u128) as i32
                }
            };
            let mut fds = [libc::pollfd {
                fd: std::os::fd::AsRawFd::as_raw_fd(&self.binding.wake_fd()),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: `fds` is a valid array of one pollfd for the duration
            // of the call, and the fd stays open (owned by the binding).
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, wait_ms) };
            if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                self.binding.disarm();
                return Err(SyncError::Gone(std::io::Error::last_os_error().to_string()));
            }
            self.binding.disarm();
        }
    }

    /// How long [`Port::poll`] keeps re-syncing before it sleeps (default
    /// 50 us, or `NETMAP_RS_POLL_SPIN_US`); zero sleeps at once, as
    /// netmap's kernel poll does.
    pub fn set_poll_spin(&mut self, spin: Duration) {
        self.poll_spin = spin;
    }

    /// Asks the backend to make [`AsFd::as_fd`] readable at the next change,
    /// for callers that wait with their own `epoll` or tokio's `AsyncFd`;
    /// call [`Port::disarm`] after waking, then sync.
    pub fn arm(&self) {
        self.binding.arm();
    }

    /// Withdraws [`Port::arm`] and drains the wake-up fd.
    pub fn disarm(&self) {
        self.binding.disarm();
    }

    /// `nm_inject`: copies one frame into the next free TX slot of the bound
    /// rings (starting from the ring used last) and advances head and cur.
    /// Does not sync. Returns false when every TX ring is full or the frame
    /// does not fit a buffer.
    pub fn inject(&mut self, frame: &[u8]) -> bool {
        if frame.len() > self.buf_size() as usize {
            return false;
        }
        for step in 0..self.tx_rings() {
            let n = (self.next_tx + step) % self.tx_rings();
            let ring = self.tx_ring(n);
            let cur = ring.cur();
            if cur >= ring.num_slots() || ring::empty(cur, ring.tail()) {
                continue;
            }
            let slot = ring.slot(cur);
            if self.write_buf(slot.buf_idx, frame).is_err() {
                continue;
            }
            ring.set_len_flags(cur, frame.len() as u16, 0);
            let next = ring::next(cur, ring.num_slots());
            ring.set_head(next);
            ring.set_cur(next);
            self.next_tx = n;
            return true;
        }
        false
    }

    /// Frames dropped because this port's RX rings were full (see
    /// [`Binding::rx_dropped`]); `None` where the backend does not count.
    pub fn rx_dropped(&self) -> Option<u64> {
        self.binding.rx_dropped()
    }

    /// `nm_nextpkt`: takes the next received frame from the bound RX rings
    /// (a MOREFRAG chain is joined), releasing its slots. Does not sync.
    pub fn next_packet(&mut self) -> Option<Packet> {
        for step in 0..self.rx_rings() {
            let n = (self.next_rx + step) % self.rx_rings();
            if let Some(packet) = self.take_packet(n) {
                self.next_rx = n;
                return Some(packet);
            }
        }
        None
    }

    fn take_packet(&self, n: usize) -> Option<Packet> {
        let ring = self.rx_ring(n);
        let tail = ring.tail();
        let mut cur = ring.cur();
        if cur >= ring.num_slots() || ring::empty(cur, tail) {
            return None;
        }
        let first = ring.slot(cur);
        let mut data = Vec::new();
        loop {
            let slot = ring.slot(cur);
            let len = usize::from(slot.len).min(self.buf_size() as usize);
            if let Some(off) = self.layout.buffers.offset(slot.buf_idx) {
                let start = data.len();
                data.resize(start + len, 0);
                let _ = self.layout.region.read_bytes(off, &mut data[start..]);
            }
            cur = ring::next(cur, ring.num_slots());
            if slot.flags & NS_MOREFRAG == 0 || ring::empty(cur, tail) {
                break;
            }
        }
        ring.set_head(cur);
        ring.set_cur(cur);
        Some(Packet {
            ring: self.layout.rx_rings[n].id,
            slot: first,
            data,
        })
    }

    /// `nm_dispatch`: hands up to `count` received frames (all, for 0) to
    /// `handler`, releasing their slots. Does not sync. Returns how many.
    pub fn dispatch(&mut self, count: usize, mut handler: impl FnMut(&Packet)) -> usize {
        let mut done = 0;
        while count == 0 || done < count {
            match self.next_packet() {
                Some(packet) => {
                    handler(&packet);
                    done += 1;
                }
                None => break,
            }
        }
        done
    }
}

impl AsFd for Port {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.binding.wake_fd()
    }
}

/// For event loops that take raw descriptors (tokio's `AsyncFd`).
impl std::os::fd::AsRawFd for Port {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.binding.wake_fd())
    }
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("name", &self.name.to_string())
            .field("tx_rings", &self.layout.tx_rings)
            .field("rx_rings", &self.layout.rx_rings)
            .finish()
    }
}
