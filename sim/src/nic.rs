//! The device model (`hw/nic_top.sv`) driven from Rust.
//!
//! [`Nic`] is the whole device as a host sees it: BAR0 registers, BAR2
//! descriptor memory, host memory reached by DMA ([`Nic::dma_map`]), and
//! per-port notification lines ([`Nic::set_notify_handler`],
//! [`Nic::take_notified`]). Every [`Nic::tick`] also serves the model's DMA
//! master port from the mapped host memory, so the data path runs by
//! clocking the model ([`Nic::run_until_idle`]). What crosses the modelled
//! link is counted ([`Nic::link_counters`]). `docs/datapath.md` is the
//! device model this drives.

use std::sync::Arc;

use netmap_ring::shm::SharedRegion;
use vale_offload::counters::PortCounter;
use vale_offload::regmap;

use crate::host::{DmaMapError, DmaResponder, HostConfig, HostMemory, LinkCounters};
use vale_offload::table::{mac_from_bits, mac_to_bits, Geometry, LearnOutcome, PlacedEntry};

use crate::models::{NicPorts, NicWaysPorts};

/// Cycles from a lookup request to its result on the `lk_res_*` port.
pub const LOOKUP_LATENCY: u64 = 6;

/// A switch command (flush, forget) written to BAR0 in cycle `c` (the value
/// of [`Nic::cycles`] before the write) takes effect between the frames
/// offered in cycles up to `c - COMMAND_LEAD` and the later ones: a frame
/// reaches the table's learn stage four clocks after it is offered, a
/// command one clock after its write.
pub const COMMAND_LEAD: u64 = 3;

/// Upper bound on cycles any wait in this wrapper spends (a hung model
/// fails the test instead of looping forever).
const WAIT_LIMIT: u64 = 1 << 20;

/// The top-level ports of `nic_top`, common to its geometries.
trait NicTop: Send {
    fn set_clk(&mut self, value: u64);
    fn set_rst(&mut self, value: u64);
    fn set_bar0_req_valid(&mut self, value: u64);
    fn set_bar0_req_write(&mut self, value: u64);
    fn set_bar0_req_addr(&mut self, value: u64);
    fn set_bar0_req_wdata(&mut self, value: u64);
    fn bar0_rsp_valid(&self) -> u64;
    fn bar0_rsp_rdata(&self) -> u64;
    fn set_lk_req_valid(&mut self, value: u64);
    fn set_lk_req_src_mac(&mut self, value: u64);
    fn set_lk_req_dst_mac(&mut self, value: u64);
    fn set_lk_req_src_port(&mut self, value: u64);
    fn set_lk_req_learn(&mut self, value: u64);
    fn set_lk_req_tag(&mut self, value: u64);
    fn lk_res_valid(&self) -> u64;
    fn lk_res_port(&self) -> u64;
    fn lk_res_hit(&self) -> u64;
    fn lk_res_learn(&self) -> u64;
    fn lk_res_tag(&self) -> u64;
    fn set_bar2_req_valid(&mut self, value: u64);
    fn set_bar2_req_write(&mut self, value: u64);
    fn set_bar2_req_addr(&mut self, value: u64);
    fn set_bar2_line_valid(&mut self, value: u64);
    fn set_bar2_line_addr(&mut self, value: u64);
    fn set_bar2_line_mask(&mut self, value: u64);
    fn set_bar2_line_wdata(&mut self, words: &[u32; 16]);
    fn bar2_rsp_valid(&self) -> u64;
    fn bar2_rsp_rdata(&self) -> u64;
    fn dma_rd_req_valid(&self) -> u64;
    fn set_dma_rd_req_ready(&mut self, value: u64);
    fn dma_rd_req_addr(&self) -> u64;
    fn dma_rd_req_len(&self) -> u64;
    fn dma_rd_req_tag(&self) -> u64;
    fn set_dma_rd_rsp_valid(&mut self, value: u64);
    fn dma_rd_rsp_ready(&self) -> u64;
    fn set_dma_rd_rsp_data(&mut self, words: &[u32; 16]);
    fn set_dma_rd_rsp_tag(&mut self, value: u64);
    fn set_dma_rd_rsp_last(&mut self, value: u64);
    fn dma_wr_req_valid(&self) -> u64;
    fn set_dma_wr_req_ready(&mut self, value: u64);
    fn dma_wr_req_addr(&self) -> u64;
    fn dma_wr_req_len(&self) -> u64;
    fn dma_wr_req_data(&self) -> [u32; 16];
    fn notify(&self) -> u64;
    fn dp_busy(&self) -> u64;
    fn eval(&mut self);
    fn dump(&mut self, time: u64);
}

macro_rules! impl_nic_top {
    ($ports:ty) => {
        impl NicTop for $ports {
            fn set_clk(&mut self, value: u64) {
                <$ports>::set_clk(self, value)
            }
            fn set_rst(&mut self, value: u64) {
                <$ports>::set_rst(self, value)
            }
            fn set_bar0_req_valid(&mut self, value: u64) {
                <$ports>::set_bar0_req_valid(self, value)
            }
            fn set_bar0_req_write(&mut self, value: u64) {
                <$ports>::set_bar0_req_write(self, value)
            }
            fn set_bar0_req_addr(&mut self, value: u64) {
                <$ports>::set_bar0_req_addr(self, value)
            }
            fn set_bar0_req_wdata(&mut self, value: u64) {
                <$ports>::set_bar0_req_wdata(self, value)
            }
            fn bar0_rsp_valid(&self) -> u64 {
                <$ports>::bar0_rsp_valid(self)
            }
            fn bar0_rsp_rdata(&self) -> u64 {
                <$ports>::bar0_rsp_rdata(self)
            }
            fn set_lk_req_valid(&mut self, value: u64) {
                <$ports>::set_lk_req_valid(self, value)
            }
            fn set_lk_req_src_mac(&mut self, value: u64) {
                <$ports>::set_lk_req_src_mac(self, value)
            }
            fn set_lk_req_dst_mac(&mut self, value: u64) {
                <$ports>::set_lk_req_dst_mac(self, value)
            }
            fn set_lk_req_src_port(&mut self, value: u64) {
                <$ports>::set_lk_req_src_port(self, value)
            }
            fn set_lk_req_learn(&mut self, value: u64) {
                <$ports>::set_lk_req_learn(self, value)
            }
            fn set_lk_req_tag(&mut self, value: u64) {
                <$ports>::set_lk_req_tag(self, value)
            }
            fn lk_res_valid(&self) -> u64 {
                <$ports>::lk_res_valid(self)
            }
            fn lk_res_port(&self) -> u64 {
                <$ports>::lk_res_port(self)
            }
            fn lk_res_hit(&self) -> u64 {
                <$ports>::lk_res_hit(self)
            }
            fn lk_res_learn(&self) -> u64 {
                <$ports>::lk_res_learn(self)
            }
            fn lk_res_tag(&self) -> u64 {
                <$ports>::lk_res_tag(self)
            }
            fn set_bar2_req_valid(&mut self, value: u64) {
                <$ports>::set_bar2_req_valid(self, value)
            }
            fn set_bar2_req_write(&mut self, value: u64) {
                <$ports>::set_bar2_req_write(self, value)
            }
            fn set_bar2_req_addr(&mut self, value: u64) {
                <$ports>::set_bar2_req_addr(self, value)
            }
            fn set_bar2_line_valid(&mut self, value: u64) {
                <$ports>::set_bar2_line_valid(self, value)
            }
            fn set_bar2_line_addr(&mut self, value: u64) {
                <$ports>::set_bar2_line_addr(self, value)
            }
            fn set_bar2_line_mask(&mut self, value: u64) {
                <$ports>::set_bar2_line_mask(self, value)
            }
            fn set_bar2_line_wdata(&mut self, words: &[u32; 16]) {
                <$ports>::set_bar2_line_wdata(self, words)
            }
            fn bar2_rsp_valid(&self) -> u64 {
                <$ports>::bar2_rsp_valid(self)
            }
            fn bar2_rsp_rdata(&self) -> u64 {
                <$ports>::bar2_rsp_rdata(self)
            }
            fn dma_rd_req_valid(&self) -> u64 {
                <$ports>::dma_rd_req_valid(self)
            }
            fn set_dma_rd_req_ready(&mut self, value: u64) {
                <$ports>::set_dma_rd_req_ready(self, value)
            }
            fn dma_rd_req_addr(&self) -> u64 {
                <$ports>::dma_rd_req_addr(self)
            }
            fn dma_rd_req_len(&self) -> u64 {
                <$ports>::dma_rd_req_len(self)
            }
            fn dma_rd_req_tag(&self) -> u64 {
                <$ports>::dma_rd_req_tag(self)
            }
            fn set_dma_rd_rsp_valid(&mut self, value: u64) {
                <$ports>::set_dma_rd_rsp_valid(self, value)
            }
            fn dma_rd_rsp_ready(&self) -> u64 {
                <$ports>::dma_rd_rsp_ready(self)
            }
            fn set_dma_rd_rsp_data(&mut self, words: &[u32; 16]) {
                <$ports>::set_dma_rd_rsp_data(self, words)
            }
            fn set_dma_rd_rsp_tag(&mut self, value: u64) {
                <$ports>::set_dma_rd_rsp_tag(self, value)
            }
            fn set_dma_rd_rsp_last(&mut self, value: u64) {
                <$ports>::set_dma_rd_rsp_last(self, value)
            }
            fn dma_wr_req_valid(&self) -> u64 {
                <$ports>::dma_wr_req_valid(self)
            }
            fn set_dma_wr_req_ready(&mut self, value: u64) {
                <$ports>::set_dma_wr_req_ready(self, value)
            }
            fn dma_wr_req_addr(&self) -> u64 {
                <$ports>::dma_wr_req_addr(self)
            }
            fn dma_wr_req_len(&self) -> u64 {
                <$ports>::dma_wr_req_len(self)
            }
            fn dma_wr_req_data(&self) -> [u32; 16] {
                <$ports>::dma_wr_req_data(self)
            }
            fn notify(&self) -> u64 {
                <$ports>::notify(self)
            }
            fn dp_busy(&self) -> u64 {
                <$ports>::dp_busy(self)
            }
            fn eval(&mut self) {
                <$ports>::eval(self)
            }
            fn dump(&mut self, time: u64) {
                <$ports>::dump(self, time)
            }
        }
    };
}
impl_nic_top!(NicPorts);
impl_nic_top!(NicWaysPorts);

/// The geometries the device model is built at (see `sim/build.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicVariant {
    /// netmap's table: 1024 rows x 1 way, learn queue of 8.
    Netmap,
    /// A small set-associative table: 64 rows x 4 ways, learn queue of 4.
    SmallWays,
}

impl NicVariant {
    /// The table geometry of this build.
    pub fn geometry(self) -> Geometry {
        match self {
            NicVariant::Netmap => Geometry::NETMAP,
            NicVariant::SmallWays => Geometry { rows: 64, ways: 4 },
        }
    }
}

/// One frame header offered to the switch core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupRequest {
    pub src: [u8; 6],
    pub dst: [u8; 6],
    pub src_port: u8,
    pub learn: bool,
    /// Carried to the result untouched.
    pub tag: u16,
}

/// The switch core's answer for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupResult {
    /// Destination port, `PORT_FLOOD` or `PORT_DROP`.
    pub port: u8,
    pub hit: bool,
    /// `None` for a learn code the software table never produces.
    pub learned: Option<LearnOutcome>,
    pub tag: u16,
}

/// The switch block's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchCounters {
    pub hit: u32,
    pub miss: u32,
    pub learn: u32,
    pub flood: u32,
    pub drop: u32,
    pub overflow: u32,
}

/// Default cycles from a DMA read request to its first data beat.
pub const DEFAULT_DMA_READ_LATENCY: u64 = 4;

/// Errors of BAR2 access.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Bar2Error {
    #[error("BAR2 access of {len} bytes at {offset:#x} is outside its {size:#x} bytes")]
    OutOfRange { offset: u64, len: usize, size: u64 },
    #[error("BAR2 access at {offset:#x} of {len} bytes is not in whole aligned 32-bit words")]
    Misaligned { offset: u64, len: usize },
}

/// The device did not go idle in the cycles allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the data path was still busy after {cycles} cycles")]
pub struct Hung {
    pub cycles: u64,
}

/// Called with the port index of every notification pulse.
pub type NotifyHandler = Box<dyn FnMut(u32) + Send>;

/// The device model: owned, Send, freed on drop.
pub struct Nic {
    ports: Box<dyn NicTop>,
    variant: NicVariant,
    cycles: u64,
    host: HostMemory,
    dma: DmaResponder,
    link: LinkCounters,
    notify_handler: Option<NotifyHandler>,
    notified: Vec<u32>,
    bar2_bytes: u64,
    num_ports: u32,
    /// xorshift state of the DMA back-pressure pattern; 0 = always ready.
    stall: u64,
}

impl Nic {
    /// A device model at `variant`'s geometry, reset, table flushed.
    pub fn new(variant: NicVariant) -> Self {
        let vcd = crate::vcd_path_from_env();
        let ports: Box<dyn NicTop> = match variant {
            NicVariant::Netmap => Box::new(NicPorts::new(vcd.as_deref())),
            NicVariant::SmallWays => Box::new(NicWaysPorts::new(vcd.as_deref())),
        };
        let mut nic = Nic {
            ports,
            variant,
            cycles: 0,
            host: HostMemory::default(),
            dma: DmaResponder::new(HostConfig::IDEAL.with_latency(DEFAULT_DMA_READ_LATENCY)),
            link: LinkCounters::default(),
            notify_handler: None,
            notified: Vec::new(),
            bar2_bytes: 0,
            num_ports: 0,
            stall: 0,
        };
        nic.reset();
        nic.bar2_bytes = u64::from(nic.bar0_read_raw(regmap::DEV_BAR2_BYTES));
        nic.num_ports = nic.bar0_read_raw(regmap::PT_COUNT);
        nic
    }

    /// Port table entries (and notification lines).
    pub fn num_ports(&self) -> u32 {
        self.num_ports
    }

    /// The table geometry.
    pub fn geometry(&self) -> Geometry {
        self.variant.geometry()
    }

    /// Clock cycles since the model was created.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// One clock: rising edge (registers take the inputs), then falling.
    /// The DMA port is served in the same step: the responder drives this
    /// cycle's read beat, the handshakes seen before the edge complete
    /// after it (writes performed, reads queued, beats retired), and
    /// notification pulses reach the handler.
    pub fn tick(&mut self) {
        let now = self.cycles;
        // Back-pressure: each channel is ready (or offers its due beat) in
        // a pseudo-random half of the cycles.
        let (rd_ready, wr_ready, offer) = if self.stall == 0 {
            (true, true, true)
        } else {
            self.stall ^= self.stall << 13;
            self.stall ^= self.stall >> 7;
            self.stall ^= self.stall << 17;
            (
                self.stall & 1 == 1,
                self.stall & 2 == 2,
                self.stall & 4 == 4,
            )
        };
        // The host model's limits: a free tag, the upstream bandwidth.
        let rd_ready = rd_ready && self.dma.read_ready();
        let wr_ready = wr_ready && self.dma.write_ready(now);
        self.ports.set_dma_rd_req_ready(u64::from(rd_ready));
        self.ports.set_dma_wr_req_ready(u64::from(wr_ready));
        let beat = if offer { self.dma.current(now) } else { None };
        match &beat {
            Some(beat) => {
                self.ports.set_dma_rd_rsp_valid(1);
                self.ports.set_dma_rd_rsp_data(&beat.data);
                self.ports.set_dma_rd_rsp_tag(u64::from(beat.tag));
                self.ports.set_dma_rd_rsp_last(u64::from(beat.last));
            }
            None => self.ports.set_dma_rd_rsp_valid(0),
        }
        self.ports.eval();
        let beat_taken = beat.is_some() && self.ports.dma_rd_rsp_ready() == 1;
        let write = (wr_ready && self.ports.dma_wr_req_valid() == 1).then(|| {
            (
                self.ports.dma_wr_req_addr(),
                self.ports.dma_wr_req_len() as usize,
                self.ports.dma_wr_req_data(),
            )
        });
        let read = (rd_ready && self.ports.dma_rd_req_valid() == 1).then(|| {
            (
                self.ports.dma_rd_req_addr(),
                self.ports.dma_rd_req_len() as usize,
                self.ports.dma_rd_req_tag() as u8,
            )
        });
        let notify = self.ports.notify();

        let time = now * 2;
        self.ports.set_clk(1);
        self.ports.eval();
        self.ports.dump(time + 1);
        self.ports.set_clk(0);
        self.ports.eval();
        self.ports.dump(time + 2);
        self.cycles += 1;

        // Posted writes first: a read accepted in the same cycle sees them.
        if let Some((addr, len, data)) = write {
            self.dma
                .write_request(&self.host, &mut self.link, now, addr, len, &data);
        }
        if let Some((addr, len, tag)) = read {
            self.dma
                .read_request(&self.host, &mut self.link, now + 1, addr, len, tag);
        }
        if beat_taken {
            self.dma.pop();
        }
        if notify != 0 {
            self.raise(notify);
        }
    }

    fn raise(&mut self, lines: u64) {
        for port in 0..self.num_ports.min(64) {
            if lines >> port & 1 == 1 {
                self.link.notifications += 1;
                self.notified.push(port);
                if let Some(handler) = self.notify_handler.as_mut() {
                    handler(port);
                }
            }
        }
    }

    /// Calls `handler` with the port of every notification from now on
    /// (from inside [`Nic::tick`]; an eventfd write, for instance).
    pub fn set_notify_handler(&mut self, handler: NotifyHandler) {
        self.notify_handler = Some(handler);
    }

    /// The ports notified since the last call, in order (repeats kept).
    pub fn take_notified(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.notified)
    }

    /// Makes `region` reachable by DMA at device address `iova`.
    pub fn dma_map(&mut self, iova: u64, region: Arc<SharedRegion>) -> Result<(), DmaMapError> {
        self.host.map(iova, region)
    }

    /// Withdraws the mapping at `iova`.
    pub fn dma_unmap(&mut self, iova: u64) -> Option<Arc<SharedRegion>> {
        self.host.unmap(iova)
    }

    /// Sets the cycles from a DMA read request to its first beat (default
    /// [`DEFAULT_DMA_READ_LATENCY`]; a PCIe round trip is ~100-250).
    pub fn set_dma_read_latency(&mut self, cycles: u64) {
        self.dma.set_latency(cycles);
    }

    /// Sets the host model behind the DMA port (round trip, tags,
    /// completion size and reordering, bandwidth; see [`HostConfig`]). A
    /// new device uses [`HostConfig::IDEAL`] (in order, unsplit, a
    /// [`DEFAULT_DMA_READ_LATENCY`] round trip); [`HostConfig::default`]
    /// is PCIe Gen4 x16 at 250 MHz.
    pub fn set_host_config(&mut self, config: HostConfig) {
        self.dma.set_config(config);
    }

    /// The host model in use.
    pub fn host_config(&self) -> HostConfig {
        self.dma.config()
    }

    /// DMA reads accepted whose last beat has not been delivered.
    pub fn dma_reads_in_flight(&self) -> usize {
        self.dma.reads_in_flight()
    }

    /// Makes the host side of the DMA port stall: with `Some(seed)`, the
    /// request channels are ready, and due read beats offered, each in a
    /// pseudo-random half of the cycles (a busy PCIe link); `None` makes
    /// them always ready again.
    pub fn set_dma_backpressure(&mut self, seed: Option<u64>) {
        self.stall = seed.map_or(0, |seed| seed | 1);
    }

    /// What has crossed the modelled link so far.
    pub fn link_counters(&self) -> LinkCounters {
        self.link
    }

    /// Whether the data path has work in progress (doorbells pending, a
    /// ring being walked, DMA in flight).
    pub fn busy(&self) -> bool {
        self.ports.dp_busy() == 1 || self.dma.pending() > 0
    }

    /// Clocks the model until the data path is idle; returns the cycles
    /// run, or [`Hung`] after `max_cycles`.
    pub fn run_until_idle(&mut self, max_cycles: u64) -> Result<u64, Hung> {
        let start = self.cycles;
        // A doorbell written in the last cycle reaches the data path one
        // clock later.
        self.tick();
        while self.busy() {
            if self.cycles - start >= max_cycles {
                return Err(Hung {
                    cycles: self.cycles - start,
                });
            }
            self.tick();
        }
        Ok(self.cycles - start)
    }

    /// BAR2 (descriptor memory) size in bytes.
    pub fn bar2_len(&self) -> u64 {
        self.bar2_bytes
    }

    fn check_bar2(&self, offset: u64, len: usize) -> Result<(), Bar2Error> {
        if !offset.is_multiple_of(4) || !len.is_multiple_of(4) {
            return Err(Bar2Error::Misaligned { offset, len });
        }
        if offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.bar2_bytes)
        {
            return Err(Bar2Error::OutOfRange {
                offset,
                len,
                size: self.bar2_bytes,
            });
        }
        Ok(())
    }

    /// Writes whole 32-bit words into BAR2, write-combined: one bus cycle
    /// per 64-byte line they touch.
    pub fn bar2_write(&mut self, offset: u64, data: &[u8]) -> Result<(), Bar2Error> {
        self.check_bar2(offset, data.len())?;
        // Write-combined: the words of each 64-byte line in one cycle.
        let mut at = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let line = at & !63;
            let first = ((at - line) / 4) as usize;
            let words = (rest.len() / 4).min(16 - first);
            let mut wdata = [0u32; 16];
            let mut mask = 0u64;
            for (k, word) in rest[..4 * words].chunks_exact(4).enumerate() {
                wdata[first + k] = u32::from_le_bytes(word.try_into().expect("4 bytes"));
                mask |= 1 << (first + k);
            }
            self.ports.set_bar2_line_valid(1);
            self.ports.set_bar2_line_addr(line);
            self.ports.set_bar2_line_mask(mask);
            self.ports.set_bar2_line_wdata(&wdata);
            self.tick();
            at += 4 * words as u64;
            rest = &rest[4 * words..];
        }
        self.ports.set_bar2_line_valid(0);
        self.link.bar2_write_bytes += data.len() as u64;
        Ok(())
    }

    /// Reads whole 32-bit words from BAR2 (not a data-path operation).
    pub fn bar2_read(&mut self, offset: u64, out: &mut [u8]) -> Result<(), Bar2Error> {
        self.check_bar2(offset, out.len())?;
        for (i, word) in out.chunks_exact_mut(4).enumerate() {
            self.ports.set_bar2_req_valid(1);
            self.ports.set_bar2_req_write(0);
            self.ports.set_bar2_req_addr(offset + 4 * i as u64);
            self.tick();
            self.ports.set_bar2_req_valid(0);
            assert_eq!(self.ports.bar2_rsp_valid(), 1, "BAR2 read got no response");
            word.copy_from_slice(&(self.ports.bar2_rsp_rdata() as u32).to_le_bytes());
        }
        self.link.bar2_read_bytes += out.len() as u64;
        Ok(())
    }

    /// Writes one 32-bit BAR2 word.
    pub fn bar2_write32(&mut self, offset: u64, value: u32) -> Result<(), Bar2Error> {
        self.bar2_write(offset, &value.to_le_bytes())
    }

    /// Reads one 32-bit BAR2 word.
    pub fn bar2_read32(&mut self, offset: u64) -> Result<u32, Bar2Error> {
        let mut word = [0u8; 4];
        self.bar2_read(offset, &mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    /// Rings TX ring `ring` of `port`: its new head (one posted BAR0 write).
    pub fn tx_doorbell(&mut self, port: u32, ring: u32, head: u32) {
        self.bar0_write(regmap::tx_doorbell(port, ring), head);
    }

    /// Tells the device RX ring `ring` of `port` is released up to `head`.
    pub fn rx_doorbell(&mut self, port: u32, ring: u32, head: u32) {
        self.bar0_write(
            regmap::rx_doorbell(port),
            regmap::rx_doorbell_value(ring, head),
        );
    }

    /// Per-port counter `counter` of `port` (a BAR0 read).
    pub fn port_counter(&mut self, port: u32, counter: PortCounter) -> u32 {
        self.bar0_read(regmap::port_counter(port, counter as u32 * 4))
    }

    /// Synchronous reset, then waits for the reset-time table sweep.
    pub fn reset(&mut self) {
        self.idle_inputs();
        self.ports.set_rst(1);
        self.tick();
        self.tick();
        self.ports.set_rst(0);
        self.tick();
        self.wait_idle();
    }

    fn idle_inputs(&mut self) {
        self.ports.set_clk(0);
        self.ports.set_bar0_req_valid(0);
        self.ports.set_bar2_req_valid(0);
        self.ports.set_bar2_line_valid(0);
        self.ports.set_lk_req_valid(0);
        self.ports.set_dma_rd_req_ready(1);
        self.ports.set_dma_wr_req_ready(1);
        self.ports.set_dma_rd_rsp_valid(0);
        self.ports.eval();
    }

    /// Reads a BAR0 register (two cycles: request, response); counted as
    /// an MMIO read.
    pub fn bar0_read(&mut self, addr: u32) -> u32 {
        self.link.mmio_reads += 1;
        self.bar0_read_raw(addr)
    }

    fn bar0_read_raw(&mut self, addr: u32) -> u32 {
        self.ports.set_bar0_req_valid(1);
        self.ports.set_bar0_req_write(0);
        self.ports.set_bar0_req_addr(u64::from(addr));
        self.tick();
        self.ports.set_bar0_req_valid(0);
        assert_eq!(
            self.ports.bar0_rsp_valid(),
            1,
            "BAR0 read of {addr:#x} got no response"
        );
        let value = self.ports.bar0_rsp_rdata() as u32;
        self.tick();
        value
    }

    /// Writes a BAR0 register (one cycle); counted as an MMIO write. A
    /// lookup result leaving in that cycle is dropped: between
    /// [`Nic::lookup_cycle`] calls, write with [`Nic::bar0_write_cycle`].
    pub fn bar0_write(&mut self, addr: u32, value: u32) {
        let _ = self.bar0_write_cycle(addr, value);
    }

    /// One clock of the lookup port: offers `request` (or nothing) and
    /// returns the result leaving the pipeline in this cycle, if any.
    pub fn lookup_cycle(&mut self, request: Option<LookupRequest>) -> Option<LookupResult> {
        match request {
            Some(request) => {
                self.ports.set_lk_req_valid(1);
                self.ports.set_lk_req_src_mac(mac_to_bits(&request.src));
                self.ports.set_lk_req_dst_mac(mac_to_bits(&request.dst));
                self.ports.set_lk_req_src_port(u64::from(request.src_port));
                self.ports.set_lk_req_learn(u64::from(request.learn));
                self.ports.set_lk_req_tag(u64::from(request.tag));
            }
            None => self.ports.set_lk_req_valid(0),
        }
        self.tick();
        self.ports.set_lk_req_valid(0);
        (self.ports.lk_res_valid() == 1).then(|| LookupResult {
            port: self.ports.lk_res_port() as u8,
            hit: self.ports.lk_res_hit() == 1,
            learned: LearnOutcome::from_code(self.ports.lk_res_learn() as u8),
            tag: self.ports.lk_res_tag() as u16,
        })
    }

    /// One clock with a BAR0 write and no lookup offered; returns the
    /// lookup result leaving the pipeline in it (a plain
    /// [`Nic::bar0_write`] would let it pass unseen).
    pub fn bar0_write_cycle(&mut self, addr: u32, value: u32) -> Option<LookupResult> {
        self.link.mmio_writes += 1;
        self.ports.set_bar0_req_valid(1);
        self.ports.set_bar0_req_write(1);
        self.ports.set_bar0_req_addr(u64::from(addr));
        self.ports.set_bar0_req_wdata(u64::from(value));
        let result = self.lookup_cycle(None);
        self.ports.set_bar0_req_valid(0);
        self.ports.set_bar0_req_write(0);
        result
    }

    /// Runs `requests` back to back, one per clock, then drains the
    /// pipeline; returns the results in order.
    pub fn lookup_burst(&mut self, requests: &[LookupRequest]) -> Vec<LookupResult> {
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.extend(self.lookup_cycle(Some(*request)));
        }
        let mut spare = 0;
        while results.len() < requests.len() {
            results.extend(self.lookup_cycle(None));
            spare += 1;
            assert!(
                spare < LOOKUP_LATENCY,
                "lookup results missing after the pipeline drained"
            );
        }
        results
    }

    /// A single lookup, waiting for its result.
    pub fn lookup(&mut self, request: LookupRequest) -> LookupResult {
        self.lookup_burst(&[request])[0]
    }

    /// Waits until no flush, learn write or readback is pending.
    pub fn wait_idle(&mut self) {
        let start = self.cycles;
        while self.bar0_read_raw(regmap::SW_STATUS) != 0 {
            assert!(self.cycles - start < WAIT_LIMIT, "switch never went idle");
        }
    }

    /// Starts a flush (learning stays enabled) without waiting for the
    /// sweep: frames offered from now on see an empty table.
    pub fn start_flush(&mut self) {
        self.bar0_write(
            regmap::SW_CONTROL,
            regmap::SW_CONTROL_FLUSH | regmap::SW_CONTROL_LEARN,
        );
        // The command reaches the table one clock after the register write.
        self.tick();
    }

    /// Forgets every table entry of `port` (BAR0 `SW_FORGET_PORT`): frames
    /// offered from now on miss its MACs, the other ports' stay. Frames
    /// offered fewer than [`COMMAND_LEAD`] cycles before count as after it.
    pub fn forget_port(&mut self, port: u32) {
        self.bar0_write(regmap::SW_FORGET_PORT, port);
        // The command reaches the table one clock after the register write.
        self.tick();
    }

    /// Flushes the table and waits for the sweep.
    pub fn flush(&mut self) {
        self.start_flush();
        self.wait_idle();
    }

    /// Reads table word `index` (row * ways + way) through BAR0.
    pub fn read_entry(&mut self, index: u32) -> u64 {
        self.bar0_write(regmap::SW_TABLE_INDEX, index);
        self.wait_idle();
        let lo = self.bar0_read(regmap::SW_TABLE_LO);
        let hi = self.bar0_read(regmap::SW_TABLE_HI);
        u64::from(hi) << 32 | u64::from(lo)
    }

    /// Every valid entry, read back through BAR0, in row then way order.
    pub fn table_entries(&mut self) -> Vec<PlacedEntry> {
        let geometry = self.geometry();
        let mut entries = Vec::new();
        for index in 0..geometry.entries() as u32 {
            let word = self.read_entry(index);
            if let Some(entry) = vale_offload::table::Entry::unpack(word) {
                entries.push(PlacedEntry {
                    mac: mac_from_bits(word),
                    port: entry.port,
                    row: index / geometry.ways,
                    way: index % geometry.ways,
                });
            }
        }
        entries
    }

    /// The switch block's counters, including every result already out.
    pub fn counters(&mut self) -> SwitchCounters {
        // Counters take the events one clock after the results leave.
        self.tick();
        SwitchCounters {
            hit: self.bar0_read(regmap::SW_HIT),
            miss: self.bar0_read(regmap::SW_MISS),
            learn: self.bar0_read(regmap::SW_LEARN),
            flood: self.bar0_read(regmap::SW_FLOOD),
            drop: self.bar0_read(regmap::SW_DROP),
            overflow: self.bar0_read(regmap::SW_OVERFLOW),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_run_on_other_threads_in_parallel() {
        let handles: Vec<_> = (0..3u32)
            .map(|n| {
                let mut nic = Nic::new(NicVariant::Netmap);
                std::thread::spawn(move || {
                    nic.bar0_write(regmap::DEV_SCRATCH, n);
                    for _ in 0..1000 {
                        nic.tick();
                    }
                    (nic.bar0_read(regmap::DEV_SCRATCH), nic.cycles())
                })
            })
            .collect();
        for (n, handle) in handles.into_iter().enumerate() {
            let (scratch, cycles) = handle.join().unwrap();
            assert_eq!(scratch, n as u32, "each model keeps its own state");
            assert!(cycles > 1000);
        }
    }
}
