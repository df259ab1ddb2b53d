//! The RTL through the simulator: a device with two VALE ports and a pipe
//! programmed as the host driver would, then random BAR0 writes and reads
//! (every register but the port table's configuration, which names host
//! memory and belongs to the driver as a NIC's queue addresses do),
//! doorbells with any value, garbage TX slots (host copy and BAR2), garbage
//! in the host-written status words and rings, idle clocks. Properties: no
//! panic, the device goes idle within [`CYCLE_LIMIT`] cycles, and it never
//! reaches for memory outside the mapping (`dma_errors` stays 0): a bad
//! slot is dropped and counted, never followed.

use sim::nic::NicVariant;
use sim::rig::{PortSpec, Rig, Slot};
use vale_offload::regmap::{self, port_register};

use crate::input::Input;
use crate::runner::Target;

/// Slots per ring.
const SLOTS: u32 = 16;
/// Cycles the device may stay busy after the last operation.
pub const CYCLE_LIMIT: u64 = 200_000;

/// Registers the fuzzer writes (besides offsets anywhere in BAR0 outside
/// the port entries' configuration): a port entry's enable bit and every
/// block-level register.
const WRITABLE: &[u32] = &[
    regmap::DEV_SCRATCH,
    regmap::DEV_ID,
    regmap::DEV_BAR2_BYTES,
    regmap::SW_CONTROL,
    regmap::SW_TABLE_INDEX,
    regmap::SW_FORGET_PORT,
    regmap::SW_HIT,
    regmap::PT_COUNT,
    regmap::NT_RAISED_BASE,
];

/// Port entry registers that configure memory: not written by the fuzzer.
fn is_port_configuration(addr: u32) -> bool {
    let end = port_register(254, 0);
    (regmap::PORT_ENTRY_BASE..end).contains(&addr)
        && (addr - regmap::PORT_ENTRY_BASE) % regmap::PORT_ENTRY_STRIDE != regmap::PORT_CONTROL
}

#[derive(Default)]
pub struct Regs;

fn rig() -> Rig {
    Rig::new(
        NicVariant::Netmap,
        &[
            PortSpec::vale(1, SLOTS),
            PortSpec::vale(2, SLOTS),
            PortSpec::pipe(true, 3, 1, SLOTS),
            PortSpec::pipe(false, 2, 1, SLOTS),
        ],
        16,
    )
}

impl Target for Regs {
    fn name(&self) -> &'static str {
        "regs"
    }

    fn max_len(&self) -> usize {
        256
    }

    fn run(&mut self, data: &[u8]) -> Result<(), String> {
        let mut rig = rig();
        let start = rig.nic.link_counters();
        let ports = rig.nic.num_ports();
        let mut input = Input::new(data);
        let mut ops = 0;
        while input.more() && ops < 48 {
            ops += 1;
            let p = input.below(4);
            match input.u8() % 9 {
                0 | 1 => {
                    let r = input.below(rig.spec(p).tx_rings);
                    let i = input.below(SLOTS);
                    let slot = Slot {
                        buf_idx: input.index_like(rig.num_bufs()),
                        len: input.u16(),
                        flags: input.u16(),
                    };
                    rig.set_tx_slot(p, r, i, slot);
                }
                2 => {
                    let len = rig.region.len() as u32;
                    let off = input.below(len) & !3;
                    let _ = rig.region.write(off as usize, input.index_like(SLOTS));
                }
                3 => {
                    let port = input.index_like(ports).min(253);
                    let ring = input.index_like(2) % regmap::DB_RINGS;
                    let head = input.index_like(SLOTS);
                    rig.nic.tx_doorbell(port, ring, head);
                }
                4 => {
                    let port = input.index_like(ports).min(253);
                    let value = match input.u8() % 2 {
                        0 => {
                            regmap::rx_doorbell_value(input.index_like(2), input.index_like(SLOTS))
                        }
                        _ => input.u32(),
                    };
                    rig.nic.bar0_write(regmap::rx_doorbell(port), value);
                }
                5 => {
                    let addr = match input.u8() % 3 {
                        0 => WRITABLE[input.below(WRITABLE.len() as u32) as usize],
                        1 => port_register(input.index_like(ports).min(253), regmap::PORT_CONTROL),
                        _ => input.below(regmap::BAR0_SIZE) & !3,
                    };
                    let value = input.u32();
                    if !is_port_configuration(addr) {
                        rig.nic.bar0_write(addr, value);
                    }
                }
                6 => {
                    let addr = input.below(regmap::BAR0_SIZE) & !3;
                    let _ = rig.nic.bar0_read(addr);
                }
                7 => {
                    let len = rig.nic.bar2_len() as u32;
                    let off = input.below(len) & !3;
                    let value = input.u32();
                    rig.nic
                        .bar2_write32(u64::from(off), value)
                        .map_err(|e| e.to_string())?;
                }
                _ => {
                    for _ in 0..input.u8() {
                        rig.nic.tick();
                    }
                }
            }
        }
        rig.nic
            .run_until_idle(CYCLE_LIMIT)
            .map_err(|e| format!("no idle: {e}"))?;
        let link = rig.nic.link_counters().since(&start);
        if link.dma_errors != 0 {
            return Err(format!(
                "{} DMA accesses outside mapped memory",
                link.dma_errors
            ));
        }
        Ok(())
    }
}
