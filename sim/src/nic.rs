//! The device model (`hw/nic_top.sv`) driven from Rust.

use vale_offload::regmap;
use vale_offload::table::{mac_from_bits, mac_to_bits, Geometry, LearnOutcome, PlacedEntry};

use crate::models::{NicPorts, NicWaysPorts};

/// Cycles from a lookup request to its result on the `lk_res_*` port.
pub const LOOKUP_LATENCY: u64 = 6;

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

/// The device model: owned, Send, freed on drop.
pub struct Nic {
    ports: Box<dyn NicTop>,
    variant: NicVariant,
    cycles: u64,
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
        };
        nic.reset();
        nic
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
    pub fn tick(&mut self) {
        let time = self.cycles * 2;
        self.ports.set_clk(1);
        self.ports.eval();
        self.ports.dump(time + 1);
        self.ports.set_clk(0);
        self.ports.eval();
        self.ports.dump(time + 2);
        self.cycles += 1;
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
        self.ports.set_lk_req_valid(0);
        self.ports.eval();
    }

    /// Reads a BAR0 register (two cycles: request, response).
    pub fn bar0_read(&mut self, addr: u32) -> u32 {
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

    /// Writes a BAR0 register (one cycle).
    pub fn bar0_write(&mut self, addr: u32, value: u32) {
        self.ports.set_bar0_req_valid(1);
        self.ports.set_bar0_req_write(1);
        self.ports.set_bar0_req_addr(u64::from(addr));
        self.ports.set_bar0_req_wdata(u64::from(value));
        self.tick();
        self.ports.set_bar0_req_valid(0);
        self.ports.set_bar0_req_write(0);
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
        while self.bar0_read(regmap::SW_STATUS) != 0 {
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
