//! Shared pieces of the data path's stage testbenches (`dp_*.rs`): the
//! stage models' geometry, the port table image, BAR2 words, and host
//! memory behind a DMA responder (fixed latency, optional back-pressure).
//! The stage models are built with 4 ports, 2 rings each and 64 KiB of
//! BAR2 (`sim/build.rs`).
#![allow(dead_code)]

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vale_offload::regmap::*;

pub const NUM_PORTS: usize = 4;
pub const RINGS: usize = 2;
pub const BAR2_BYTES: usize = 65536;
/// 32-bit words of the port table input (`port_cfg`).
pub const CFG_WORDS: usize = NUM_PORTS * PORT_ENTRY_REGS as usize;

/// Entry index of (port, ring), as the RTL numbers rings.
pub fn entry(port: usize, ring: usize) -> u64 {
    (port * RINGS + ring) as u64
}

/// The port table as the stages see it (bar0_regs' `port_cfg`).
#[derive(Clone)]
pub struct PortCfg {
    pub words: [u32; CFG_WORDS],
}

impl Default for PortCfg {
    fn default() -> Self {
        PortCfg {
            words: [0; CFG_WORDS],
        }
    }
}

impl PortCfg {
    /// Register at byte offset `reg` (a `PORT_*` offset) of entry `port`.
    pub fn set(&mut self, port: usize, reg: u32, value: u32) -> &mut Self {
        self.words[port * PORT_ENTRY_REGS as usize + reg as usize / 4] = value;
        self
    }

    pub fn get(&self, port: usize, reg: u32) -> u32 {
        self.words[port * PORT_ENTRY_REGS as usize + reg as usize / 4]
    }

    /// A whole entry: kind, rings and slots (tx, rx), buffers, the
    /// addresses of its pool, RX rings, status blocks and BAR2 TX rings.
    #[allow(clippy::too_many_arguments)]
    pub fn port(
        &mut self,
        port: usize,
        kind: u32,
        rings: (u32, u32),
        slots: (u32, u32),
        buf_size: u32,
        num_bufs: u32,
        pool: u64,
        rx_ring: u64,
        status: u64,
        bar2_ring: u32,
    ) -> &mut Self {
        self.set(port, PORT_KIND, kind)
            .set(port, PORT_CONTROL, PORT_CONTROL_ENABLE)
            .set(port, PORT_RINGS, rings.0 | rings.1 << 16)
            .set(port, PORT_SLOTS, slots.0 | slots.1 << 16)
            .set(port, PORT_BUF_SIZE, buf_size)
            .set(port, PORT_NUM_BUFS, num_bufs)
            .set(port, PORT_POOL_ADDR_LO, pool as u32)
            .set(port, PORT_POOL_ADDR_HI, (pool >> 32) as u32)
            .set(port, PORT_RX_RING_ADDR_LO, rx_ring as u32)
            .set(port, PORT_RX_RING_ADDR_HI, (rx_ring >> 32) as u32)
            .set(port, PORT_STATUS_ADDR_LO, status as u32)
            .set(port, PORT_STATUS_ADDR_HI, (status >> 32) as u32)
            .set(port, PORT_RING_ADDR_LO, bar2_ring)
    }
}

/// A netmap slot's first 64 bits (buf_idx, len, flags), as BAR2 holds it.
pub fn slot_word(buf_idx: u32, len: u16, flags: u16) -> u64 {
    u64::from(buf_idx) | u64::from(len) << 32 | u64::from(flags) << 48
}

/// Bytes of a ring of `n` slots.
pub fn ring_bytes(n: u32) -> u64 {
    u64::from(contract::RING_HEADER_BYTES) + u64::from(n) * u64::from(contract::SLOT_BYTES)
}

/// BAR2 as 64-bit words, with the one-cycle read of the device port.
pub struct Bar2 {
    pub words: Vec<u64>,
    pub rdata: u64,
}

impl Default for Bar2 {
    fn default() -> Self {
        Bar2 {
            words: vec![0; BAR2_BYTES / 8],
            rdata: 0,
        }
    }
}

impl Bar2 {
    /// Slot `i` of the ring at byte offset `base` with its header.
    pub fn slot_index(base: u32, i: u32) -> usize {
        (u64::from(base) + ring_bytes(i)) as usize / 8
    }

    pub fn set_slot(&mut self, base: u32, i: u32, word: u64) {
        self.words[Self::slot_index(base, i)] = word;
    }

    pub fn slot(&self, base: u32, i: u32) -> u64 {
        self.words[Self::slot_index(base, i)]
    }

    /// The 64-byte line `row` as the line port gives it (sixteen 32-bit
    /// words, the lowest address first).
    pub fn line(&self, row: usize) -> [u32; 16] {
        let mut out = [0u32; 16];
        for (w, word) in self.words[row * 8..row * 8 + 8].iter().enumerate() {
            out[2 * w] = *word as u32;
            out[2 * w + 1] = (*word >> 32) as u32;
        }
        out
    }
}

/// One beat of a read response.
#[derive(Clone, Copy)]
pub struct Beat {
    pub at: u64,
    pub data: [u32; 16],
    pub last: bool,
}

/// Host memory from address 0 behind the DMA ports: reads answered
/// `latency` cycles after they are accepted, writes applied when
/// accepted; with `stall`, each ready is dropped at random.
pub struct Host {
    pub mem: Vec<u8>,
    pub latency: u64,
    pub now: u64,
    pub beats: VecDeque<Beat>,
    pub reads: Vec<(u64, u32)>,
    pub writes: Vec<(u64, Vec<u8>)>,
    pub stall: f64,
    pub rd_ready: bool,
    pub wr_ready: bool,
    rng: StdRng,
}

impl Host {
    pub fn new(size: usize, latency: u64) -> Self {
        Host {
            mem: vec![0; size],
            latency,
            now: 0,
            beats: VecDeque::new(),
            reads: Vec::new(),
            writes: Vec::new(),
            stall: 0.0,
            rd_ready: true,
            wr_ready: true,
            rng: StdRng::seed_from_u64(7),
        }
    }

    /// Draws this cycle's readies.
    pub fn draw(&mut self) {
        self.rd_ready = self.stall == 0.0 || !self.rng.gen_bool(self.stall);
        self.wr_ready = self.stall == 0.0 || !self.rng.gen_bool(self.stall);
    }

    /// The response beat on the bus this cycle, if any.
    pub fn beat(&self) -> Option<Beat> {
        self.beats.front().copied().filter(|b| b.at <= self.now)
    }

    pub fn read_request(&mut self, addr: u64, len: u32) {
        self.reads.push((addr, len));
        let beats = (len as usize).div_ceil(64).max(1);
        for i in 0..beats {
            let mut data = [0u32; 16];
            for (w, word) in data.iter_mut().enumerate() {
                let a = addr as usize + i * 64 + w * 4;
                *word = u32::from_le_bytes(self.mem[a..a + 4].try_into().unwrap());
            }
            self.beats.push_back(Beat {
                at: self.now + self.latency,
                data,
                last: i + 1 == beats,
            });
        }
    }

    pub fn write_request(&mut self, addr: u64, len: u32, data: [u32; 16]) {
        let bytes: Vec<u8> = data.iter().flat_map(|w| w.to_le_bytes()).collect();
        let len = len as usize;
        self.mem[addr as usize..addr as usize + len].copy_from_slice(&bytes[..len]);
        self.writes.push((addr, bytes[..len].to_vec()));
    }

    pub fn u32_at(&self, addr: u64) -> u32 {
        let a = addr as usize;
        u32::from_le_bytes(self.mem[a..a + 4].try_into().unwrap())
    }

    pub fn put_u32(&mut self, addr: u64, value: u32) {
        let a = addr as usize;
        self.mem[a..a + 4].copy_from_slice(&value.to_le_bytes());
    }
}

/// A 512-bit beat from bytes (missing bytes zero).
pub fn beat_of(bytes: &[u8]) -> [u32; 16] {
    let mut words = [0u32; 16];
    for (i, b) in bytes.iter().take(64).enumerate() {
        words[i / 4] |= u32::from(*b) << (8 * (i % 4));
    }
    words
}

/// Drives a stage's DMA read response and the `dma_rd_can`/`dma_wr_free`
/// inputs for this cycle (before the edge). `$wr`: the stage has a write
/// channel; `$last`: it has `dma_rd_rsp_last`.
#[macro_export]
macro_rules! drive_dma {
    ($p:expr, $host:expr, wr = $wr:tt, last = $last:tt) => {{
        $host.draw();
        let beat = $host.beat();
        $p.set_dma_rd_rsp_valid(u64::from(beat.is_some()));
        $p.set_dma_rd_rsp_data(&beat.map(|b| b.data).unwrap_or([0; 16]));
        drive_dma!(@last $p, beat, $last);
        $p.set_dma_rd_req_ready(u64::from($host.rd_ready));
        let wr_valid = drive_dma!(@wr $p, $host, $wr);
        let rd_valid = $p.dma_rd_req_valid() != 0;
        $p.set_dma_rd_can(u64::from(!wr_valid && (!rd_valid || $host.rd_ready)));
    }};
    (@last $p:expr, $beat:expr, true) => {
        $p.set_dma_rd_rsp_last(u64::from($beat.is_some_and(|b| b.last)))
    };
    (@last $p:expr, $beat:expr, false) => {
        ()
    };
    (@wr $p:expr, $host:expr, true) => {{
        $p.set_dma_wr_req_ready(u64::from($host.wr_ready));
        let wr_valid = $p.dma_wr_req_valid() != 0;
        $p.set_dma_wr_free(u64::from(!wr_valid || $host.wr_ready));
        wr_valid
    }};
    (@wr $p:expr, $host:expr, false) => {
        false
    };
}

/// Samples a stage's DMA requests and response handshake (after the
/// inputs are set and evaluated, before the edge) and applies them.
#[macro_export]
macro_rules! sample_dma {
    ($p:expr, $host:expr, wr = $wr:tt) => {{
        if $p.dma_rd_rsp_valid() != 0 && $p.dma_rd_rsp_ready() != 0 {
            $host.beats.pop_front();
        }
        if $p.dma_rd_req_valid() != 0 && $host.rd_ready {
            let (addr, len) = ($p.dma_rd_req_addr(), $p.dma_rd_req_len() as u32);
            $host.read_request(addr, len);
        }
        sample_dma!(@wr $p, $host, $wr);
        $host.now += 1;
    }};
    (@wr $p:expr, $host:expr, true) => {
        if $p.dma_wr_req_valid() != 0 && $host.wr_ready {
            let (addr, len) = ($p.dma_wr_req_addr(), $p.dma_wr_req_len() as u32);
            let data = $p.dma_wr_req_data();
            $host.write_request(addr, len, data);
        }
    };
    (@wr $p:expr, $host:expr, false) => {
        ()
    };
}
