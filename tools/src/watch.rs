//! `valectl --watch`: per-port packet and drop rates, refreshed every
//! interval, from the software engine's counters or a device's (BAR0).
//!
//! Each refresh reads every port's counters once and prints, per port,
//! the received and transmitted packets per second and the drops per
//! second (the sum of the counters whose name says `drop`) since the
//! previous read. Device counters are 32 bits wide and wrap; the deltas
//! take the wrap into account.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use crate::error::ToolError;
use crate::signal;

/// One read of a port's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortSample {
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Every drop counter of the port, summed.
    pub drops: u64,
}

impl PortSample {
    /// Sums a port's named counters (`rx_packets`, `tx_packets`, `*drop*`).
    pub fn from_counters<'a>(counters: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let mut s = Self::default();
        for (name, value) in counters {
            match name {
                "rx_packets" => s.rx_packets = value,
                "tx_packets" => s.tx_packets = value,
                n if n.contains("drop") => s.drops = s.drops.wrapping_add(value),
                _ => {}
            }
        }
        s
    }
}

/// Every port's counters at one moment, by port name.
pub type Sample = BTreeMap<String, PortSample>;

/// Where counters come from.
pub trait Source {
    /// Reads every port's counters now.
    fn sample(&mut self) -> Result<Sample, ToolError>;
    /// Width of the counters in bits (deltas wrap at it).
    fn counter_bits(&self) -> u32;
}

/// The software engine: one switch, or every switch.
pub struct SoftSource {
    pub switch: Option<String>,
}

impl Source for SoftSource {
    fn sample(&mut self) -> Result<Sample, ToolError> {
        let names = match &self.switch {
            Some(name) => vec![name.clone()],
            None => vale_soft::admin::domain_names(),
        };
        let mut out = Sample::new();
        for name in names {
            let info =
                vale_soft::admin::open_existing(&name).and_then(|d| vale_soft::admin::describe(&d));
            let info = match info {
                Ok(info) => info,
                // A switch that went away between two reads: its ports
                // are gone from the table.
                Err(vale_soft::admin::AdminError::NoSuchSwitch(_)) if self.switch.is_none() => {
                    continue
                }
                Err(e) => return Err(e.into()),
            };
            for p in &info.ports {
                out.insert(
                    crate::valectl::full_name(&info.name, &p.name),
                    PortSample::from_counters(p.counters.iter().map(|&(n, v)| (n, v))),
                );
            }
            // Monitors too: their rx is the copies, their drops the copies
            // a full ring lost.
            for m in &info.monitors {
                out.insert(
                    crate::valectl::full_name(&info.name, &m.name),
                    PortSample::from_counters(m.counters.iter().map(|&(n, v)| (n, v))),
                );
            }
        }
        Ok(out)
    }

    fn counter_bits(&self) -> u32 {
        64
    }
}

/// A device's port table and counters (BAR0), by entry.
pub struct DeviceSource {
    pub device: Box<dyn host_driver::device::Device>,
}

impl Source for DeviceSource {
    fn sample(&mut self) -> Result<Sample, ToolError> {
        let report = host_driver::report::device_report(self.device.as_mut()).map_err(|e| {
            ToolError::Io {
                what: "reading the device".into(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        Ok(report
            .ports
            .iter()
            .map(|p| {
                (
                    format!("entry {} ({})", p.entry, p.kind),
                    PortSample::from_counters(p.counters.iter().map(|&(n, v)| (n, u64::from(v)))),
                )
            })
            .collect())
    }

    fn counter_bits(&self) -> u32 {
        32
    }
}

/// Per-second rates of one port between two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub rx_pps: f64,
    pub tx_pps: f64,
    pub drops_ps: f64,
}

fn delta(new: u64, old: u64, bits: u32) -> u64 {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    new.wrapping_sub(old) & mask
}

/// Rates of every port present in both samples, `seconds` apart.
pub fn rates(old: &Sample, new: &Sample, seconds: f64, bits: u32) -> Vec<(String, Rates)> {
    let seconds = seconds.max(1e-9);
    new.iter()
        .filter_map(|(name, n)| {
            let o = old.get(name)?;
            let per_s = |a: u64, b: u64| delta(a, b, bits) as f64 / seconds;
            Some((
                name.clone(),
                Rates {
                    rx_pps: per_s(n.rx_packets, o.rx_packets),
                    tx_pps: per_s(n.tx_packets, o.tx_packets),
                    drops_ps: per_s(n.drops, o.drops),
                },
            ))
        })
        .collect()
}

/// One refresh as text: a header line, then a line per port.
pub fn render(elapsed: Duration, rows: &[(String, Rates)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>8.1}s {:<32} {:>12} {:>12} {:>12}",
        elapsed.as_secs_f64(),
        "port",
        "rx pps",
        "tx pps",
        "drops/s"
    );
    if rows.is_empty() {
        out.push_str("          no ports\n");
    }
    for (name, r) in rows {
        let _ = writeln!(
            out,
            "          {name:<32} {:>12.0} {:>12.0} {:>12.0}",
            r.rx_pps, r.tx_pps, r.drops_ps
        );
    }
    out
}

/// Prints a refresh every `interval`, `count` times (0: until SIGINT).
pub fn watch(
    source: &mut dyn Source,
    interval: Duration,
    count: u64,
    out: &mut dyn std::io::Write,
) -> Result<(), ToolError> {
    signal::install();
    let start = Instant::now();
    let mut last = source.sample()?;
    let mut last_at = Instant::now();
    let mut shown = 0;
    while count == 0 || shown < count {
        // Sleep in short steps so that SIGINT ends the wait promptly.
        let due = last_at + interval;
        while Instant::now() < due {
            if signal::stop_requested() {
                return Ok(());
            }
            std::thread::sleep((due - Instant::now()).min(Duration::from_millis(50)));
        }
        let now_sample = source.sample()?;
        let now = Instant::now();
        let rows = rates(
            &last,
            &now_sample,
            (now - last_at).as_secs_f64(),
            source.counter_bits(),
        );
        out.write_all(render(now - start, &rows).as_bytes())
            .and_then(|_| out.flush())
            .map_err(|source| ToolError::Io {
                what: "output".into(),
                source,
            })?;
        last = now_sample;
        last_at = now;
        shown += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_counters_are_summed_and_packets_kept() {
        let s = PortSample::from_counters([
            ("rx_packets", 5),
            ("rx_bytes", 300),
            ("tx_packets", 7),
            ("tx_drop_full", 2),
            ("rx_drop_full", 3),
            ("bad_ring_syncs", 9),
        ]);
        assert_eq!(
            s,
            PortSample {
                rx_packets: 5,
                tx_packets: 7,
                drops: 5
            }
        );
    }

    #[test]
    fn rates_divide_by_the_interval_and_survive_a_32_bit_wrap() {
        let mut old = Sample::new();
        let mut new = Sample::new();
        old.insert(
            "a".into(),
            PortSample {
                rx_packets: u64::from(u32::MAX) - 9,
                tx_packets: 100,
                drops: 0,
            },
        );
        new.insert(
            "a".into(),
            PortSample {
                rx_packets: 10,
                tx_packets: 300,
                drops: 4,
            },
        );
        new.insert("new port".into(), PortSample::default());
        let r = rates(&old, &new, 2.0, 32);
        assert_eq!(
            r.len(),
            1,
            "a port absent from the last read has no rate yet"
        );
        assert_eq!(
            r[0].1,
            Rates {
                rx_pps: 10.0,
                tx_pps: 100.0,
                drops_ps: 2.0
            }
        );
    }
}
