//! Counters of a NIC port, kept in the control area of the port's own
//! memory so that anyone holding the [`Port`] (or a mapping of its region)
//! can read them.
#![forbid(unsafe_code)]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use netmap_ring::port::Port;
use netmap_ring::region::NetmapMemory;
use netmap_ring::shm::SharedRegion;

/// Marks a control area that holds NIC counters.
const MAGIC: u64 = u64::from_le_bytes(*b"NMNICCT1");

/// One counter of a NIC port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicCounter {
    /// Frames placed in RX rings.
    RxPackets,
    /// Bytes of those frames.
    RxBytes,
    /// Frames the kernel took from TX rings.
    TxPackets,
    /// Bytes of those frames.
    TxBytes,
    /// TX frames with a slot whose buffer index, pointer or length is bad.
    TxDropBadSlot,
    /// TX frames shorter than an Ethernet header.
    TxDropShort,
    /// TX chains longer than 64 slots.
    TxDropChain,
    /// TX frames the kernel refused (too large, qdisc full, link down).
    TxDropError,
    /// RX frames larger than a buffer.
    RxDropTruncated,
    /// RX frames the kernel dropped because the socket queue was full
    /// (`PACKET_STATISTICS`), read when a sync drains the socket.
    RxDropKernel,
    /// RX slots the application left with a bad buffer index, given a
    /// fresh buffer of the pool.
    RxBufRepaired,
    /// Syncs refused for bad head/cur (the ring was reinitialised).
    BadRingSyncs,
}

impl NicCounter {
    /// Every counter, in storage order.
    pub const ALL: [NicCounter; 12] = [
        NicCounter::RxPackets,
        NicCounter::RxBytes,
        NicCounter::TxPackets,
        NicCounter::TxBytes,
        NicCounter::TxDropBadSlot,
        NicCounter::TxDropShort,
        NicCounter::TxDropChain,
        NicCounter::TxDropError,
        NicCounter::RxDropTruncated,
        NicCounter::RxDropKernel,
        NicCounter::RxBufRepaired,
        NicCounter::BadRingSyncs,
    ];
}

/// Which kernel interface serves a NIC port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NicEngine {
    /// AF_XDP when the interface and kernel allow it, else AF_PACKET.
    #[default]
    Auto,
    /// AF_PACKET sockets.
    Packet,
    /// AF_XDP (zero copy where the driver offers it, else copy mode),
    /// or fail.
    Xdp,
}

/// Bytes of control area the counters need: magic, counters, engine,
/// zero copy.
pub const AREA_SIZE: usize = 8 * (3 + NicCounter::ALL.len());
const ENGINE_AT: usize = 8 * (1 + NicCounter::ALL.len());
const ZERO_COPY_AT: usize = ENGINE_AT + 8;

/// Writer side: the binding adds to the counters in its region.
#[derive(Clone, Debug)]
pub struct Counters {
    region: Arc<SharedRegion>,
    offset: usize,
}

impl Counters {
    /// Formats the counters at region offset `offset` (zeroed, then the
    /// magic).
    pub fn format(region: Arc<SharedRegion>, offset: usize) -> Self {
        let _ = region.fill(offset, AREA_SIZE, 0);
        let _ = region.write(offset, MAGIC);
        Self { region, offset }
    }

    /// Adds `value` to counter `c`.
    #[inline]
    pub fn add(&self, c: NicCounter, value: u64) {
        if value == 0 {
            return;
        }
        if let Ok(a) = self.region.atomic_u64(self.offset + 8 * (1 + c as usize)) {
            a.fetch_add(value, Ordering::Relaxed);
        }
    }

    /// Records the engine serving the port.
    pub fn set_engine(&self, engine: NicEngine) {
        let _ = self.region.write(self.offset + ENGINE_AT, engine as u64);
    }

    /// Records whether AF_XDP runs in zero copy.
    pub fn set_zero_copy(&self, zero_copy: bool) {
        let _ = self
            .region
            .write(self.offset + ZERO_COPY_AT, u64::from(zero_copy));
    }

    /// The current values.
    pub fn snapshot(&self) -> NicCounters {
        read_at(&self.region, self.offset).unwrap_or_default()
    }
}

/// A snapshot of a NIC port's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicCounters {
    values: [u64; NicCounter::ALL.len()],
    engine: NicEngine,
    zero_copy: bool,
}

impl NicCounters {
    pub fn get(&self, c: NicCounter) -> u64 {
        self.values[c as usize]
    }

    /// The engine serving the port: `Packet` or `Xdp`.
    pub fn engine(&self) -> NicEngine {
        self.engine
    }

    /// AF_XDP in zero copy (the NIC reads and writes the netmap buffers).
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// How the port reaches the NIC, as the tools print it.
    pub fn mode(&self) -> &'static str {
        match (self.engine, self.zero_copy) {
            (NicEngine::Xdp, true) => "AF_XDP zero copy",
            (NicEngine::Xdp, false) => "AF_XDP copy mode",
            (NicEngine::Packet, _) => "AF_PACKET",
            (NicEngine::Auto, _) => "unknown",
        }
    }
}

fn read_at(region: &SharedRegion, offset: usize) -> Option<NicCounters> {
    if region.read::<u64>(offset).ok()? != MAGIC {
        return None;
    }
    let mut values = [0u64; NicCounter::ALL.len()];
    for (n, v) in values.iter_mut().enumerate() {
        *v = region
            .atomic_u64(offset + 8 * (1 + n))
            .ok()?
            .load(Ordering::Relaxed);
    }
    let engine = match region.read::<u64>(offset + ENGINE_AT).ok()? {
        x if x == NicEngine::Xdp as u64 => NicEngine::Xdp,
        x if x == NicEngine::Packet as u64 => NicEngine::Packet,
        _ => NicEngine::Auto,
    };
    let zero_copy = region.read::<u64>(offset + ZERO_COPY_AT).ok()? == 1;
    Some(NicCounters {
        values,
        engine,
        zero_copy,
    })
}

/// The counters of `port`, if it is a NIC port of the software backend.
pub fn counters(port: &Port) -> Option<NicCounters> {
    let memory = NetmapMemory::attach(Arc::clone(port.region())).ok()?;
    read_at(port.region(), memory.layout().ctrl_off)
}
