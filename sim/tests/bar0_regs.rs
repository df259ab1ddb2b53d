//! Testbench of `bar0_regs` through the device top: the block list, the
//! identity registers, scratch, port table entries, unmapped offsets, the
//! counter, notification and doorbell blocks.
#![forbid(unsafe_code)]

use sim::nic::{Nic, NicVariant};
use vale_offload::regmap::*;

#[test]
fn block_list_walks_device_switch_port_table() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let mut offset = 0;
    let mut found = Vec::new();
    for _ in 0..8 {
        found.push((
            offset,
            nic.bar0_read(offset + BLOCK_TYPE),
            nic.bar0_read(offset + BLOCK_VERSION),
        ));
        offset = nic.bar0_read(offset + BLOCK_NEXT);
        if offset == 0 {
            break;
        }
    }
    assert_eq!(
        found,
        vec![
            (DEVICE_BASE, TYPE_DEVICE, DEVICE_VERSION),
            (SWITCH_BASE, TYPE_SWITCH, SWITCH_VERSION),
            (PORT_TABLE_BASE, TYPE_PORT_TABLE, PORT_TABLE_VERSION),
            (
                PORT_COUNTERS_BASE,
                TYPE_PORT_COUNTERS,
                PORT_COUNTERS_VERSION
            ),
            (NOTIFY_BASE, TYPE_NOTIFY, NOTIFY_VERSION),
            (DOORBELL_BASE, TYPE_DOORBELL, DOORBELL_VERSION),
        ]
    );
}

#[test]
fn data_path_blocks_describe_themselves() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let ports = nic.bar0_read(PT_COUNT);
    assert_eq!(nic.bar0_read(PC_COUNT), PC_COUNTERS);
    assert_eq!(nic.bar0_read(PC_STRIDE), PC_ENTRY_STRIDE);
    assert_eq!(nic.bar0_read(PC_FIRST), PC_ENTRY_BASE);
    assert_eq!(nic.bar0_read(NT_COUNT), ports);
    assert_eq!(nic.bar0_read(NT_FIRST), NT_RAISED_BASE);
    assert_eq!(nic.bar0_read(DB_TX_RINGS), DB_RINGS);
    assert_eq!(nic.bar0_read(DB_TX_FIRST), DB_TX_BASE);
    assert_eq!(nic.bar0_read(DB_RX_FIRST), DB_RX_BASE);
    assert_eq!(nic.bar0_read(DEV_BAR2_BYTES) as u64, nic.bar2_len());
    let rings = nic.bar0_read(DEV_RINGS);
    assert!((1..=DB_RINGS).contains(&rings));
    // Fresh counters read 0 and ignore writes; doorbells read 0.
    for port in 0..ports {
        for counter in 0..PC_COUNTERS {
            nic.bar0_write(port_counter(port, counter * 4), 9);
            assert_eq!(nic.bar0_read(port_counter(port, counter * 4)), 0);
        }
        assert_eq!(nic.bar0_read(NT_RAISED_BASE + port * 4), 0);
    }
    assert_eq!(nic.bar0_read(tx_doorbell(0, 0)), 0);
    assert_eq!(nic.bar0_read(rx_doorbell(0)), 0);
    // Past the last port's counters: nothing (no aliasing onto port 0).
    assert_eq!(nic.bar0_read(port_counter(ports, 0)), 0);
}

#[test]
fn bar2_holds_host_writes() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let len = nic.bar2_len();
    assert!(len >= 64 * 1024);
    let data: Vec<u8> = (0..64u8).collect();
    nic.bar2_write(0x100, &data).unwrap();
    nic.bar2_write32(len - 4, 0xfeed_f00d).unwrap();
    let mut out = vec![0u8; 64];
    nic.bar2_read(0x100, &mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(nic.bar2_read32(len - 4).unwrap(), 0xfeed_f00d);
    assert!(nic.bar2_write32(len, 1).is_err());
    assert!(nic.bar2_write(2, &[0; 4]).is_err());
    let link = nic.link_counters();
    assert_eq!(link.bar2_write_bytes, 68);
    assert_eq!(link.bar2_read_bytes, 68);
}

#[test]
fn identity_and_geometry() {
    for variant in [NicVariant::Netmap, NicVariant::SmallWays] {
        let mut nic = Nic::new(variant);
        assert_eq!(nic.bar0_read(DEV_ID), DEVICE_ID_VALUE);
        assert_eq!(nic.bar0_read(DEV_REVISION), DEV_REVISION_VALUE);
        assert_eq!(nic.bar0_read(DEV_DATAPATH_BITS), 512);
        assert_eq!(nic.bar0_read(DEV_CLOCK_MHZ), 250);
        assert_eq!(nic.bar0_read(SW_ROWS), variant.geometry().rows);
        assert_eq!(nic.bar0_read(SW_WAYS), variant.geometry().ways);
        assert_eq!(nic.bar0_read(SW_HASH_ID), HASH_ID_NETMAP);
        assert_eq!(nic.bar0_read(SW_MAX_PORTS), 254);
        assert_eq!(nic.bar0_read(SW_CONTROL), SW_CONTROL_LEARN);
        assert_eq!(nic.bar0_read(SW_STATUS), 0);
    }
}

#[test]
fn scratch_and_port_entries_hold_writes() {
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.bar0_write(DEV_SCRATCH, 0xdead_beef);
    assert_eq!(nic.bar0_read(DEV_SCRATCH), 0xdead_beef);
    let count = nic.bar0_read(PT_COUNT);
    assert_eq!(nic.bar0_read(PT_STRIDE), PORT_ENTRY_STRIDE);
    assert_eq!(nic.bar0_read(PT_FIRST), PORT_ENTRY_BASE);
    assert!(count >= 2);
    for port in 0..count {
        for reg in 0..PORT_ENTRY_REGS {
            nic.bar0_write(port_register(port, reg * 4), port << 16 | reg);
        }
    }
    for port in 0..count {
        for reg in 0..PORT_ENTRY_REGS {
            assert_eq!(
                nic.bar0_read(port_register(port, reg * 4)),
                port << 16 | reg
            );
        }
    }
    // Past the last register of an entry, and past the last entry: nothing.
    if PORT_ENTRY_REGS * 4 < PORT_ENTRY_STRIDE {
        assert_eq!(nic.bar0_read(port_register(0, PORT_ENTRY_REGS * 4)), 0);
    }
    assert_eq!(nic.bar0_read(port_register(count, PORT_KIND)), 0);
    nic.bar0_write(port_register(count, PORT_KIND), 7);
    assert_eq!(nic.bar0_read(port_register(count, PORT_KIND)), 0);
}

#[test]
fn read_only_registers_ignore_writes() {
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.bar0_write(DEV_ID, 0);
    nic.bar0_write(SW_HIT, 55);
    nic.bar0_write(0x0800, 1);
    assert_eq!(nic.bar0_read(DEV_ID), DEVICE_ID_VALUE);
    assert_eq!(nic.bar0_read(SW_HIT), 0);
    assert_eq!(nic.bar0_read(0x0800), 0);
    assert_eq!(nic.bar0_read(DOORBELL_BASE + 0x20), 0);
}

#[test]
fn learning_can_be_switched_off() {
    use sim::nic::LookupRequest;
    use vale_offload::table::LearnOutcome;
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.bar0_write(SW_CONTROL, 0);
    assert_eq!(nic.bar0_read(SW_CONTROL), 0);
    let request = LookupRequest {
        src: [2, 0, 0, 0, 0, 1],
        dst: [2, 0, 0, 0, 0, 2],
        src_port: 1,
        learn: true,
        tag: 0,
    };
    assert_eq!(nic.lookup(request).learned, Some(LearnOutcome::Skipped));
    nic.bar0_write(SW_CONTROL, SW_CONTROL_LEARN);
    assert_eq!(nic.lookup(request).learned, Some(LearnOutcome::Inserted));
}
