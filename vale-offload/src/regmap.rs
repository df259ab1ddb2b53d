//! The device's BAR0 register map, generated from `hw/README.md` (the
//! single source of truth) by `build.rs`. The RTL includes `hw/regmap.svh`,
//! generated from the same table; the test below keeps the two in step.
//! [`contract`] holds the rest of the device contract (slot layout and
//! flags, special ports, counter indexes, limits), from the same file.
#![forbid(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/regmap.rs"));

/// The device contract outside BAR0, generated from the contract table of
/// `hw/README.md`; the RTL includes `hw/contract.svh`, generated from the
/// same table. `tests/contract.rs` holds every constant to the value the
/// Rust code uses.
pub mod contract {
    include!(concat!(env!("OUT_DIR"), "/contract.rs"));
}

/// BAR0 offset of register `reg` (a `PORT_*` offset) of port entry `port`.
pub fn port_register(port: u32, reg: u32) -> u32 {
    PORT_ENTRY_BASE + port * PORT_ENTRY_STRIDE + reg
}

/// BAR0 offset of counter `reg` (a `PC_*` offset) of port `port`.
pub fn port_counter(port: u32, reg: u32) -> u32 {
    PC_ENTRY_BASE + port * PC_ENTRY_STRIDE + reg
}

/// BAR0 offset of the TX doorbell of ring `ring` of port `port`.
pub fn tx_doorbell(port: u32, ring: u32) -> u32 {
    DB_TX_BASE + port * DB_TX_STRIDE + ring * 4
}

/// BAR0 offset of the RX doorbell of port `port`.
pub fn rx_doorbell(port: u32) -> u32 {
    DB_RX_BASE + port * 4
}

/// The value written to an RX doorbell: ring `ring` released up to `head`.
pub fn rx_doorbell_value(ring: u32, head: u32) -> u32 {
    ring << DB_RX_RING_SHIFT | head
}

/// Byte offset, inside a port's status blocks, of TX ring `ring`'s entry.
pub fn tx_status_offset(ring: u32) -> u64 {
    u64::from(ring * ST_SIZE)
}

/// Byte offset, inside a port's status blocks, of RX ring `ring`'s entry.
pub fn rx_status_offset(ring: u32) -> u64 {
    u64::from((ST_RX_FIRST + ring) * ST_SIZE)
}

/// Bytes of a port's status blocks (every TX and RX entry).
pub const STATUS_BLOCK_BYTES: u32 = 2 * DB_RINGS * ST_SIZE;

// The generated map's layout, checked when it is compiled: blocks in
// order inside BAR0, every per-port array sized for 254 ports ending
// before the next block, the port entry's last register inside its stride.
const _: () = {
    assert!(DEVICE_BASE < SWITCH_BASE);
    assert!(SWITCH_BASE < PORT_TABLE_BASE);
    assert!(PORT_TABLE_BASE < PORT_COUNTERS_BASE);
    assert!(PORT_COUNTERS_BASE < NOTIFY_BASE);
    assert!(NOTIFY_BASE < DOORBELL_BASE);
    assert!(DOORBELL_BASE < BAR0_SIZE);
    assert!(PORT_ENTRY_BASE + 254 * PORT_ENTRY_STRIDE <= PORT_COUNTERS_BASE);
    assert!(PC_ENTRY_BASE + 254 * PC_ENTRY_STRIDE <= NOTIFY_BASE);
    assert!(PC_COUNTERS * 4 <= PC_ENTRY_STRIDE);
    assert!(PC_TX_DROP_NO_DEST == (PC_COUNTERS - 1) * 4);
    assert!(PC_COUNTERS as usize == crate::counters::PORT_COUNTERS);
    assert!(NT_RAISED_BASE + 254 * 4 <= DOORBELL_BASE);
    assert!(DB_RINGS == crate::geometry::MAX_RINGS);
    assert!(DB_RINGS * 4 <= DB_TX_STRIDE);
    assert!(DB_TX_BASE + 254 * DB_TX_STRIDE <= DB_RX_BASE);
    assert!(DB_RX_BASE + 254 * 4 <= BAR0_SIZE);
    assert!(ST_RX_FIRST == DB_RINGS);
    assert!(ST_NEED_KICK + 4 <= ST_SIZE);
    assert!(PORT_ENTRY_REGS * 4 == PORT_TX_HOST_RING_OFF + 4);
    assert!(PORT_ENTRY_REGS * 4 <= PORT_ENTRY_STRIDE);
    assert!(PT_COUNT == PORT_TABLE_BASE + 0xc);
    assert!(HASH_ID_NETMAP == crate::hash::HASH_ID_NETMAP_JENKINS);
    // Counter i of a port sits at byte 4 * i of its counter set.
    assert!(PC_RX_PACKETS == contract::CNT_RX_PACKETS * 4);
    assert!(PC_RX_BYTES == contract::CNT_RX_BYTES * 4);
    assert!(PC_TX_PACKETS == contract::CNT_TX_PACKETS * 4);
    assert!(PC_TX_BYTES == contract::CNT_TX_BYTES * 4);
    assert!(PC_TX_DROP_FULL == contract::CNT_TX_DROP_FULL * 4);
    assert!(PC_TX_DROP_SHORT == contract::CNT_TX_DROP_SHORT * 4);
    assert!(PC_TX_DROP_BAD_SLOT == contract::CNT_TX_DROP_BAD_SLOT * 4);
    assert!(PC_TX_DROP_SAME_PORT == contract::CNT_TX_DROP_SAME_PORT * 4);
    assert!(PC_TX_DROP_CHAIN == contract::CNT_TX_DROP_CHAIN * 4);
    assert!(PC_RX_DROP_FULL == contract::CNT_RX_DROP_FULL * 4);
    assert!(PC_RX_DROP_BAD_BUF == contract::CNT_RX_DROP_BAD_BUF * 4);
    assert!(PC_BAD_RING_SYNCS == contract::CNT_BAD_RING_SYNCS * 4);
    assert!(PC_TX_DROP_NO_DEST == contract::CNT_TX_DROP_NO_DEST * 4);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_sv_include_matches_readme() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/regmap.svh"));
        let committed = include_str!("../../hw/regmap.svh");
        assert!(
            generated == committed,
            "hw/regmap.svh is stale: run REGMAP_BLESS=1 cargo build -p vale-offload"
        );
    }

    #[test]
    fn committed_contract_include_matches_readme() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/contract.svh"));
        let committed = include_str!("../../hw/contract.svh");
        assert!(
            generated == committed,
            "hw/contract.svh is stale: run REGMAP_BLESS=1 cargo build -p vale-offload"
        );
    }

    #[test]
    fn committed_defines_match_readme() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/nm_defines.svh"));
        let committed = include_str!("../../hw/nm_defines.svh");
        assert!(
            generated == committed,
            "hw/nm_defines.svh is stale: run REGMAP_BLESS=1 cargo build -p vale-offload"
        );
    }

    #[test]
    fn port_registers_follow_the_stride() {
        assert_eq!(port_register(0, PORT_KIND), PORT_ENTRY_BASE);
        assert_eq!(
            port_register(2, PORT_CONTROL),
            PORT_ENTRY_BASE + 2 * PORT_ENTRY_STRIDE + 4
        );
    }
}
