//! The counters both engines keep, in one list each: per port and per
//! switch. The index of a [`PortCounter`] is its place in the software
//! engine's counter array and, times four, its offset in the device's
//! per-port counter block (`PC_*` in `hw/README.md`); the names are the
//! ones `valectl --stats` and the benchmarks print.

use crate::regmap;

/// Per-port counters, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortCounter {
    /// Frames delivered into this port's RX rings.
    RxPackets = 0,
    RxBytes,
    /// Frames taken from this port's TX rings and forwarded or moved.
    TxPackets,
    TxBytes,
    /// Frames from this port dropped: destination ring full (VALE).
    TxDropFull,
    /// Frames from this port dropped: shorter than an Ethernet header.
    TxDropShort,
    /// Frames from this port dropped: a slot with a bad buffer or length.
    TxDropBadSlot,
    /// Frames from this port dropped: destination is the source port.
    TxDropSamePort,
    /// Frames from this port dropped: MOREFRAG chain over 64 slots.
    TxDropChain,
    /// Frames for this port dropped: its RX ring was full.
    RxDropFull,
    /// Frames for this port dropped: its RX slot held a bad buffer index.
    RxDropBadBuf,
    /// Syncs refused for head/cur outside the ring invariants.
    BadRingSyncs,
    /// Frames from this port dropped: no other port to deliver to.
    TxDropNoDest,
}

/// Number of per-port counters.
pub const PORT_COUNTERS: usize = PortCounter::ALL.len();

impl PortCounter {
    /// Every counter, in index order.
    pub const ALL: [PortCounter; 13] = [
        PortCounter::RxPackets,
        PortCounter::RxBytes,
        PortCounter::TxPackets,
        PortCounter::TxBytes,
        PortCounter::TxDropFull,
        PortCounter::TxDropShort,
        PortCounter::TxDropBadSlot,
        PortCounter::TxDropSamePort,
        PortCounter::TxDropChain,
        PortCounter::RxDropFull,
        PortCounter::RxDropBadBuf,
        PortCounter::BadRingSyncs,
        PortCounter::TxDropNoDest,
    ];

    /// Index into a port's counter array.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The name tools print (`valectl --stats`, `--json` reports).
    pub const fn name(self) -> &'static str {
        match self {
            PortCounter::RxPackets => "rx_packets",
            PortCounter::RxBytes => "rx_bytes",
            PortCounter::TxPackets => "tx_packets",
            PortCounter::TxBytes => "tx_bytes",
            PortCounter::TxDropFull => "tx_drop_full",
            PortCounter::TxDropShort => "tx_drop_short",
            PortCounter::TxDropBadSlot => "tx_drop_bad_slot",
            PortCounter::TxDropSamePort => "tx_drop_same_port",
            PortCounter::TxDropChain => "tx_drop_chain",
            PortCounter::RxDropFull => "rx_drop_full",
            PortCounter::RxDropBadBuf => "rx_drop_bad_buf",
            PortCounter::BadRingSyncs => "bad_ring_syncs",
            PortCounter::TxDropNoDest => "tx_drop_no_dest",
        }
    }

    /// Offset of this counter in a port's device counter block (a `PC_*`
    /// register of `hw/README.md`).
    pub const fn device_offset(self) -> u32 {
        self as u32 * 4
    }
}

/// Switch counters, by index into the counter array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SwitchCounter {
    Lookups = 0,
    Hits,
    Misses,
    Learns,
    Floods,
    SamePortDrops,
    /// Forwarded frames (each destination copy counted once).
    Forwarded,
}

/// Number of switch counters.
pub const SWITCH_COUNTERS: usize = SwitchCounter::ALL.len();

impl SwitchCounter {
    /// Every counter, in index order.
    pub const ALL: [SwitchCounter; 7] = [
        SwitchCounter::Lookups,
        SwitchCounter::Hits,
        SwitchCounter::Misses,
        SwitchCounter::Learns,
        SwitchCounter::Floods,
        SwitchCounter::SamePortDrops,
        SwitchCounter::Forwarded,
    ];

    /// The name tools print.
    pub const fn name(self) -> &'static str {
        match self {
            SwitchCounter::Lookups => "lookups",
            SwitchCounter::Hits => "hits",
            SwitchCounter::Misses => "misses",
            SwitchCounter::Learns => "learns",
            SwitchCounter::Floods => "floods",
            SwitchCounter::SamePortDrops => "same_port_drops",
            SwitchCounter::Forwarded => "forwarded",
        }
    }
}

// The list and the device's counter block are the same list.
const _: () = {
    let mut i = 0;
    while i < PORT_COUNTERS {
        assert!(PortCounter::ALL[i] as usize == i);
        i += 1;
    }
    assert!(PORT_COUNTERS == regmap::PC_COUNTERS as usize);
    assert!(PortCounter::RxPackets.device_offset() == regmap::PC_RX_PACKETS);
    assert!(PortCounter::TxDropFull.device_offset() == regmap::PC_TX_DROP_FULL);
    assert!(PortCounter::TxDropChain.device_offset() == regmap::PC_TX_DROP_CHAIN);
    assert!(PortCounter::BadRingSyncs.device_offset() == regmap::PC_BAD_RING_SYNCS);
    assert!(PortCounter::TxDropNoDest.device_offset() == regmap::PC_TX_DROP_NO_DEST);
    let mut j = 0;
    while j < SWITCH_COUNTERS {
        assert!(SwitchCounter::ALL[j] as usize == j);
        j += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = PortCounter::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PORT_COUNTERS);
        let mut names: Vec<_> = SwitchCounter::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SWITCH_COUNTERS);
    }
}
