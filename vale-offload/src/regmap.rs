//! The device's BAR0 register map, generated from `hw/README.md` (the
//! single source of truth) by `build.rs`. The RTL includes `hw/regmap.svh`,
//! generated from the same table; the test below keeps the two in step.
#![forbid(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/regmap.rs"));

/// BAR0 offset of register `reg` (a `PORT_*` offset) of port entry `port`.
pub fn port_register(port: u32, reg: u32) -> u32 {
    PORT_ENTRY_BASE + port * PORT_ENTRY_STRIDE + reg
}

// The generated map's layout, checked when it is compiled: blocks in
// order inside BAR0, the largest port table (254 entries) ending before the
// doorbells, the port entry's last register inside its stride.
const _: () = {
    assert!(DEVICE_BASE < SWITCH_BASE);
    assert!(SWITCH_BASE < PORT_TABLE_BASE);
    assert!(PORT_TABLE_BASE < DOORBELL_BASE);
    assert!(DOORBELL_BASE < NOTIFY_BASE);
    assert!(NOTIFY_BASE < BAR0_SIZE);
    assert!(PORT_ENTRY_BASE + 254 * PORT_ENTRY_STRIDE <= DOORBELL_BASE);
    assert!(PORT_ENTRY_REGS * 4 == PORT_STATUS_ADDR_HI + 4);
    assert!(PORT_ENTRY_REGS * 4 <= PORT_ENTRY_STRIDE);
    assert!(PT_COUNT == PORT_TABLE_BASE + 0xc);
    assert!(HASH_ID_NETMAP == crate::hash::HASH_ID_NETMAP_JENKINS);
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
    fn port_registers_follow_the_stride() {
        assert_eq!(port_register(0, PORT_KIND), PORT_ENTRY_BASE);
        assert_eq!(
            port_register(2, PORT_CONTROL),
            PORT_ENTRY_BASE + 2 * PORT_ENTRY_STRIDE + 4
        );
    }
}
