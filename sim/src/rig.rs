//! A minimal host for the device model, for tests and benchmarks: it lays
//! out one host-memory region (status blocks, TX rings (the application's
//! copy), RX rings, one buffer pool shared by every port, as one VALE
//! switch's memory), programs the port table, places the device's copy of
//! the TX rings in BAR2, and plays application and driver: writes TX slots
//! (host copy and BAR2), rings doorbells, reads RX rings, releases them.
//! TX slots are read from the host copy, where pipe crossover writes the
//! swapped slots back: the rig never reads BAR2.
//!
//! It follows `docs/datapath.md` step by step; the host driver (issue 7)
//! does the same work behind the netmap `Port` API.
#![forbid(unsafe_code)]

use std::sync::Arc;

use netmap_ring::abi::{ring_off, slot_off, RING_HEADER_SIZE, SLOT_SIZE};
use netmap_ring::shm::SharedRegion;
use vale_offload::regmap::{self, port_register};

use crate::nic::{Nic, NicVariant};

/// Device address of the rig's region (above 4 GiB, so a 32-bit
/// truncation shows).
pub const RIG_IOVA: u64 = 1 << 32;
/// Buffer size: a multiple of 64 (DMA beats stay aligned), netmap-rs's 2112.
pub const RIG_BUF_SIZE: u32 = 2112;
/// Cycles a single doorbell may keep the device busy in the rig.
pub const RIG_CYCLE_LIMIT: u64 = 5_000_000;

/// One port to set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// `regmap::PORT_KIND_*`.
    pub kind: u32,
    pub tx_rings: u32,
    pub rx_rings: u32,
    pub tx_slots: u32,
    pub rx_slots: u32,
    /// The other end, for pipe ends.
    pub peer: u32,
}

impl PortSpec {
    /// A VALE port with `rings` ring pairs of `slots` slots.
    pub fn vale(rings: u32, slots: u32) -> Self {
        Self {
            kind: regmap::PORT_KIND_VALE,
            tx_rings: rings,
            rx_rings: rings,
            tx_slots: slots,
            rx_slots: slots,
            peer: 0,
        }
    }

    /// A pipe end (`master` or slave) whose other end is port `peer`.
    pub fn pipe(master: bool, peer: u32, rings: u32, slots: u32) -> Self {
        Self {
            kind: if master {
                regmap::PORT_KIND_PIPE_MASTER
            } else {
                regmap::PORT_KIND_PIPE_SLAVE
            },
            peer,
            ..Self::vale(rings, slots)
        }
    }
}

/// One slot: buffer index, length, flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub buf_idx: u32,
    pub len: u16,
    pub flags: u16,
}

struct PortLayout {
    spec: PortSpec,
    status_off: usize,
    /// Region offset of the host copy of TX ring 0.
    tx_ring_off: usize,
    rx_ring_off: usize,
    tx_ring_bar2: u64,
}

/// The device model with a host around it.
pub struct Rig {
    pub nic: Nic,
    pub region: Arc<SharedRegion>,
    ports: Vec<PortLayout>,
    pool_off: usize,
    num_bufs: u32,
}

fn align64(value: usize) -> usize {
    value.div_ceil(64) * 64
}

fn ring_bytes(slots: u32) -> usize {
    RING_HEADER_SIZE + slots as usize * SLOT_SIZE
}

impl Rig {
    /// A device with `specs` in port entries 0.. (enabled), `spare_bufs`
    /// buffers in the pool beyond those the rings hold.
    pub fn new(variant: NicVariant, specs: &[PortSpec], spare_bufs: u32) -> Self {
        let mut nic = Nic::new(variant);
        assert!(specs.len() as u32 <= nic.num_ports(), "too many ports");
        let status_bytes = regmap::STATUS_BLOCK_BYTES as usize;
        let mut offset = specs.len() * status_bytes;
        let mut bar2 = 0u64;
        let mut ports = Vec::new();
        let mut ring_slots = 0u32;
        for (p, spec) in specs.iter().enumerate() {
            let tx_ring_off = align64(offset);
            let rx_ring_off =
                align64(tx_ring_off + spec.tx_rings as usize * ring_bytes(spec.tx_slots));
            offset = rx_ring_off + spec.rx_rings as usize * ring_bytes(spec.rx_slots);
            ports.push(PortLayout {
                spec: *spec,
                status_off: p * status_bytes,
                tx_ring_off,
                rx_ring_off,
                tx_ring_bar2: bar2,
            });
            bar2 += u64::from(spec.tx_rings) * ring_bytes(spec.tx_slots) as u64;
            bar2 = bar2.div_ceil(64) * 64;
            ring_slots += spec.tx_rings * spec.tx_slots + spec.rx_rings * spec.rx_slots;
        }
        assert!(bar2 <= nic.bar2_len(), "TX rings do not fit in BAR2");
        let pool_off = align64(offset);
        let num_bufs = 2 + ring_slots + spare_bufs;
        let len = pool_off + num_bufs as usize * RIG_BUF_SIZE as usize;
        let region = Arc::new(SharedRegion::create("sim-rig", len).expect("rig memory"));
        nic.dma_map(RIG_IOVA, region.clone()).expect("rig mapping");
        let mut rig = Rig {
            nic,
            region,
            ports,
            pool_off,
            num_bufs,
        };
        let mut next_buf = 2u32;
        for p in 0..specs.len() {
            let spec = rig.ports[p].spec;
            for r in 0..spec.tx_rings {
                for i in 0..spec.tx_slots {
                    rig.set_tx_slot(
                        p as u32,
                        r,
                        i,
                        Slot {
                            buf_idx: next_buf,
                            len: 0,
                            flags: 0,
                        },
                    );
                    next_buf += 1;
                }
            }
            for r in 0..spec.rx_rings {
                for i in 0..spec.rx_slots {
                    let off = rig.rx_slot_off(p as u32, r, i);
                    rig.region.write(off, next_buf).unwrap();
                    next_buf += 1;
                }
            }
            rig.program(p as u32);
        }
        rig
    }

    fn program(&mut self, p: u32) {
        let layout = &self.ports[p as usize];
        let spec = layout.spec;
        let status = RIG_IOVA + layout.status_off as u64;
        let rx_ring = RIG_IOVA + layout.rx_ring_off as u64;
        let pool = RIG_IOVA + self.pool_off as u64;
        let tx_ring = layout.tx_ring_bar2;
        let tx_host_ring = (layout.tx_ring_off - layout.status_off) as u32;
        let regs = [
            (regmap::PORT_KIND, spec.kind),
            (regmap::PORT_RINGS, spec.rx_rings << 16 | spec.tx_rings),
            (regmap::PORT_SLOTS, spec.rx_slots << 16 | spec.tx_slots),
            (regmap::PORT_BUF_SIZE, RIG_BUF_SIZE),
            (regmap::PORT_PIPE_PEER, spec.peer),
            (regmap::PORT_RING_ADDR_LO, tx_ring as u32),
            (regmap::PORT_RING_ADDR_HI, (tx_ring >> 32) as u32),
            (regmap::PORT_POOL_ADDR_LO, pool as u32),
            (regmap::PORT_POOL_ADDR_HI, (pool >> 32) as u32),
            (regmap::PORT_STATUS_ADDR_LO, status as u32),
            (regmap::PORT_STATUS_ADDR_HI, (status >> 32) as u32),
            (regmap::PORT_NUM_BUFS, self.num_bufs),
            (regmap::PORT_RX_RING_ADDR_LO, rx_ring as u32),
            (regmap::PORT_RX_RING_ADDR_HI, (rx_ring >> 32) as u32),
            (regmap::PORT_TX_HOST_RING_OFF, tx_host_ring),
            (regmap::PORT_CONTROL, regmap::PORT_CONTROL_ENABLE),
        ];
        for (reg, value) in regs {
            self.nic.bar0_write(port_register(p, reg), value);
        }
    }

    /// Disables port `p` (its ring state in the device starts over).
    pub fn disable(&mut self, p: u32) {
        self.nic
            .bar0_write(port_register(p, regmap::PORT_CONTROL), 0);
    }

    /// Stops pipe crossover writing port `p`'s swapped TX slots back into
    /// host memory (`PORT_TX_HOST_RING_OFF` = 0): they land in BAR2 only.
    pub fn disable_tx_write_back(&mut self, p: u32) {
        self.nic
            .bar0_write(port_register(p, regmap::PORT_TX_HOST_RING_OFF), 0);
    }

    /// The port's spec.
    pub fn spec(&self, p: u32) -> PortSpec {
        self.ports[p as usize].spec
    }

    /// Buffers in the pool (indexes 2 .. num_bufs are valid).
    pub fn num_bufs(&self) -> u32 {
        self.num_bufs
    }

    fn tx_slot_bar2(&self, p: u32, r: u32, i: u32) -> u64 {
        let layout = &self.ports[p as usize];
        layout.tx_ring_bar2
            + u64::from(r) * ring_bytes(layout.spec.tx_slots) as u64
            + (RING_HEADER_SIZE + i as usize * SLOT_SIZE) as u64
    }

    fn tx_slot_host(&self, p: u32, r: u32, i: u32) -> usize {
        let layout = &self.ports[p as usize];
        layout.tx_ring_off
            + r as usize * ring_bytes(layout.spec.tx_slots)
            + RING_HEADER_SIZE
            + i as usize * SLOT_SIZE
    }

    fn rx_ring_off(&self, p: u32, r: u32) -> usize {
        let layout = &self.ports[p as usize];
        layout.rx_ring_off + r as usize * ring_bytes(layout.spec.rx_slots)
    }

    fn rx_slot_off(&self, p: u32, r: u32, i: u32) -> usize {
        self.rx_ring_off(p, r) + RING_HEADER_SIZE + i as usize * SLOT_SIZE
    }

    fn status_off(&self, p: u32, rx: bool, r: u32) -> usize {
        let entry = if rx {
            regmap::rx_status_offset(r)
        } else {
            regmap::tx_status_offset(r)
        };
        self.ports[p as usize].status_off + entry as usize
    }

    /// Region offset of buffer `buf_idx`.
    pub fn buf_off(&self, buf_idx: u32) -> usize {
        self.pool_off + buf_idx as usize * RIG_BUF_SIZE as usize
    }

    /// Writes TX slot `i` of ring `r` of port `p` (ptr 0): into the host
    /// copy (the application) and into BAR2 (the driver's push).
    pub fn set_tx_slot(&mut self, p: u32, r: u32, i: u32, slot: Slot) {
        self.set_tx_slots(p, r, i, &[slot]);
    }

    /// Writes TX slots `first ..` of ring `r` of port `p` (ptr 0; they
    /// must not pass the ring's end) as [`Rig::set_tx_slot`], pushed into
    /// BAR2 in one write-combined burst.
    pub fn set_tx_slots(&mut self, p: u32, r: u32, first: u32, slots: &[Slot]) {
        let mut bytes = vec![0u8; 16 * slots.len()];
        for (slot, out) in slots.iter().zip(bytes.chunks_exact_mut(16)) {
            out[0..4].copy_from_slice(&slot.buf_idx.to_le_bytes());
            out[4..6].copy_from_slice(&slot.len.to_le_bytes());
            out[6..8].copy_from_slice(&slot.flags.to_le_bytes());
        }
        let host = self.tx_slot_host(p, r, first);
        self.region
            .write_bytes(host, &bytes)
            .expect("TX slots in host memory");
        let at = self.tx_slot_bar2(p, r, first);
        self.nic.bar2_write(at, &bytes).expect("TX slots in BAR2");
    }

    /// TX slot `i`, from the host copy (where pipe crossover writes the
    /// swapped slots back).
    pub fn tx_slot(&self, p: u32, r: u32, i: u32) -> Slot {
        let off = self.tx_slot_host(p, r, i);
        Slot {
            buf_idx: self.region.read(off + slot_off::BUF_IDX).unwrap(),
            len: self.region.read(off + slot_off::LEN).unwrap(),
            flags: self.region.read(off + slot_off::FLAGS).unwrap(),
        }
    }

    /// TX slot `i` as the device's copy in BAR2 holds it (an MMIO read).
    pub fn tx_slot_bar2_copy(&mut self, p: u32, r: u32, i: u32) -> Slot {
        let at = self.tx_slot_bar2(p, r, i);
        let mut bytes = [0u8; 8];
        self.nic.bar2_read(at, &mut bytes).expect("TX slot in BAR2");
        Slot {
            buf_idx: u32::from_le_bytes(bytes[0..4].try_into().unwrap()),
            len: u16::from_le_bytes(bytes[4..6].try_into().unwrap()),
            flags: u16::from_le_bytes(bytes[6..8].try_into().unwrap()),
        }
    }

    /// The ptr field of TX slot `i` in the host copy.
    pub fn tx_slot_ptr(&self, p: u32, r: u32, i: u32) -> u64 {
        let off = self.tx_slot_host(p, r, i);
        self.region.read(off + slot_off::PTR).unwrap()
    }

    /// Writes `payload` into the buffer of TX slot `i` and the slot's
    /// length and flags (the buffer index stays).
    pub fn write_tx(&mut self, p: u32, r: u32, i: u32, payload: &[u8], flags: u16) {
        let mut slot = self.tx_slot(p, r, i);
        if (2..self.num_bufs).contains(&slot.buf_idx) {
            let off = self.buf_off(slot.buf_idx);
            self.region.write_bytes(off, payload).unwrap();
        }
        slot.len = payload.len() as u16;
        slot.flags = flags;
        self.set_tx_slot(p, r, i, slot);
    }

    /// RX slot `i` of ring `r` of port `p`, from host memory.
    pub fn rx_slot(&self, p: u32, r: u32, i: u32) -> Slot {
        let off = self.rx_slot_off(p, r, i);
        Slot {
            buf_idx: self.region.read(off + slot_off::BUF_IDX).unwrap(),
            len: self.region.read(off + slot_off::LEN).unwrap(),
            flags: self.region.read(off + slot_off::FLAGS).unwrap(),
        }
    }

    /// Replaces the buffer index of RX slot `i` (an application swapping
    /// buffers, or breaking one).
    pub fn set_rx_buf(&self, p: u32, r: u32, i: u32, buf_idx: u32) {
        let off = self.rx_slot_off(p, r, i);
        self.region.write(off + slot_off::BUF_IDX, buf_idx).unwrap();
    }

    /// `len` bytes of buffer `buf_idx`.
    pub fn read_buf(&self, buf_idx: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len.min(RIG_BUF_SIZE as usize)];
        if (2..self.num_bufs).contains(&buf_idx) {
            self.region
                .read_bytes(self.buf_off(buf_idx), &mut out)
                .unwrap();
        }
        out
    }

    /// (hwcur, hwtail) the device published for a ring.
    pub fn status(&self, p: u32, rx: bool, r: u32) -> (u32, u32) {
        let off = self.status_off(p, rx, r);
        (
            self.region.read(off + regmap::ST_HWCUR as usize).unwrap(),
            self.region.read(off + regmap::ST_HWTAIL as usize).unwrap(),
        )
    }

    /// Asks for (or stops asking for) a notification on a ring's progress.
    pub fn set_need_kick(&self, p: u32, rx: bool, r: u32, want: bool) {
        let off = self.status_off(p, rx, r) + regmap::ST_NEED_KICK as usize;
        self.region.write(off, u32::from(want)).unwrap();
    }

    /// Releases RX slots up to `head` (status block), and with `doorbell`
    /// tells the device at once (an RX doorbell).
    pub fn rx_release(&mut self, p: u32, r: u32, head: u32, doorbell: bool) {
        let off = self.status_off(p, true, r) + regmap::ST_HEAD as usize;
        self.region.write(off, head).unwrap();
        if doorbell {
            self.nic.rx_doorbell(p, r, head);
            self.settle();
        }
    }

    /// Rings TX ring `r` of port `p` with `head`, and runs the device
    /// until it is idle.
    pub fn tx_doorbell(&mut self, p: u32, r: u32, head: u32) {
        self.nic.tx_doorbell(p, r, head);
        self.settle();
    }

    /// Runs the device until idle (panics if it hangs).
    pub fn settle(&mut self) -> u64 {
        self.nic
            .run_until_idle(RIG_CYCLE_LIMIT)
            .expect("data path hung")
    }

    /// The frames in RX ring `r` of port `p` from `from` to the published
    /// hwtail, as (payload, flags) per slot.
    pub fn rx_frames(&self, p: u32, r: u32, from: u32) -> Vec<(Vec<u8>, u16)> {
        let n = self.spec(p).rx_slots;
        let (_, tail) = self.status(p, true, r);
        let mut out = Vec::new();
        let mut i = from;
        while i != tail {
            let slot = self.rx_slot(p, r, i);
            out.push((
                self.read_buf(slot.buf_idx, usize::from(slot.len)),
                slot.flags,
            ));
            i = (i + 1) % n;
        }
        out
    }

    /// Offset of the RX ring header (for tests that look at it).
    pub fn rx_ring_header_off(&self, p: u32, r: u32) -> usize {
        self.rx_ring_off(p, r) + ring_off::HEAD
    }
}
