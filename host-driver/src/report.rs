//! What is on a device, read from BAR0 (control path, MMIO reads): the
//! port table, each port's counters and the switch's counters, with the
//! software engine's counter names, for `valectl --backend`.
#![forbid(unsafe_code)]

use std::fmt;

use vale_offload::counters::PortCounter;
use vale_offload::regmap as map;

use crate::device::Device;
use crate::regs::{self, RegisterError};

/// The switch block's counters.
const SWITCH_COUNTERS: [(&str, u32); 8] = [
    ("lookups", map::SW_LOOKUPS),
    ("hits", map::SW_HIT),
    // The device counts unicast misses only; `misses` (below) is the
    // engine's: every lookup that found nothing, broadcasts included.
    ("unicast_misses", map::SW_MISS),
    ("learns", map::SW_LEARN),
    ("floods", map::SW_FLOOD),
    ("same_port_drops", map::SW_DROP),
    ("learn_overflows", map::SW_OVERFLOW),
    ("forwarded", map::SW_FORWARDED),
];

/// One enabled port entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortReport {
    pub entry: u32,
    pub kind: &'static str,
    pub tx_rings: u16,
    pub rx_rings: u16,
    pub tx_slots: u16,
    pub rx_slots: u16,
    pub counters: Vec<(&'static str, u32)>,
}

/// The device's ports and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceReport {
    pub body: &'static str,
    pub revision: u32,
    pub table_rows: u32,
    pub table_ways: u32,
    pub ports: Vec<PortReport>,
    pub switch: Vec<(&'static str, u32)>,
}

fn kind_name(kind: u32) -> &'static str {
    match kind {
        map::PORT_KIND_VALE => "vale",
        map::PORT_KIND_PIPE_MASTER => "pipe-master",
        map::PORT_KIND_PIPE_SLAVE => "pipe-slave",
        map::PORT_KIND_ETHERNET => "ethernet",
        _ => "none",
    }
}

/// Reads the report from `dev`.
pub fn device_report(dev: &mut dyn Device) -> Result<DeviceReport, RegisterError> {
    let info = regs::probe(dev)?;
    let counters = info.blocks.find_optional(map::TYPE_PORT_COUNTERS)?;
    let (first, stride) = match counters {
        Some(block) => (
            dev.bar0_read(block.reg(map::PORT_COUNTERS_BASE, map::PC_FIRST))?,
            dev.bar0_read(block.reg(map::PORT_COUNTERS_BASE, map::PC_STRIDE))?,
        ),
        None => (0, 0),
    };
    let mut ports = Vec::new();
    for entry in 0..info.ports.count {
        let (e, enabled) = info.ports.read(dev, entry)?;
        if !enabled {
            continue;
        }
        let mut values = Vec::new();
        if counters.is_some() {
            for c in PortCounter::ALL {
                let reg = first + entry * stride + c.device_offset();
                values.push((c.name(), dev.bar0_read(reg)?));
            }
        }
        ports.push(PortReport {
            entry,
            kind: kind_name(e.kind),
            tx_rings: e.tx_rings,
            rx_rings: e.rx_rings,
            tx_slots: e.tx_slots,
            rx_slots: e.rx_slots,
            counters: values,
        });
    }
    let switch_block = info.blocks.find(map::TYPE_SWITCH)?;
    let mut switch = Vec::new();
    for (name, reg) in SWITCH_COUNTERS {
        switch.push((
            name,
            dev.bar0_read(switch_block.reg(map::SWITCH_BASE, reg))?,
        ));
    }
    // `misses` means what it means on the software engine (valectl shows
    // the same names for both): lookups that found no destination.
    let (lookups, hits) = (switch[0].1, switch[1].1);
    switch.insert(2, ("misses", lookups.wrapping_sub(hits)));
    Ok(DeviceReport {
        body: dev.body(),
        revision: info.revision,
        table_rows: info.table_rows,
        table_ways: info.table_ways,
        ports,
        switch,
    })
}

fn json_counters(counters: &[(&str, u32)]) -> String {
    let fields: Vec<String> = counters
        .iter()
        .map(|(name, value)| format!("\"{name}\":{value}"))
        .collect();
    format!("{{{}}}", fields.join(","))
}

impl DeviceReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{{\"entry\":{},\"kind\":\"{}\",\"tx_rings\":{},\"rx_rings\":{},\"tx_slots\":{},\"rx_slots\":{},\"counters\":{}}}",
                    p.entry,
                    p.kind,
                    p.tx_rings,
                    p.rx_rings,
                    p.tx_slots,
                    p.rx_slots,
                    json_counters(&p.counters)
                )
            })
            .collect();
        format!(
            "{{\"backend\":\"{}\",\"revision\":{},\"table\":{{\"rows\":{},\"ways\":{}}},\"ports\":[{}],\"switch\":{}}}",
            self.body,
            self.revision,
            self.table_rows,
            self.table_ways,
            ports.join(","),
            json_counters(&self.switch)
        )
    }
}

impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "device ({}): revision {}.{}, MAC table {} x {}",
            self.body,
            self.revision >> 16,
            self.revision & 0xffff,
            self.table_rows,
            self.table_ways
        )?;
        if self.ports.is_empty() {
            writeln!(f, "  no port enabled")?;
        }
        for p in &self.ports {
            writeln!(
                f,
                "  entry {:>3} {:<11} tx {}x{} rx {}x{}",
                p.entry, p.kind, p.tx_rings, p.tx_slots, p.rx_rings, p.rx_slots
            )?;
            let nonzero: Vec<String> = p
                .counters
                .iter()
                .filter(|(_, v)| *v != 0)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            if !nonzero.is_empty() {
                writeln!(f, "      {}", nonzero.join(" "))?;
            }
        }
        let switch: Vec<String> = self
            .switch
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        writeln!(f, "  switch: {}", switch.join(" "))
    }
}
