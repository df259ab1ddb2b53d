//! The device contract generated from `hw/README.md` (the constants the
//! RTL includes as `hw/contract.svh`) against the values the Rust code
//! actually uses: a change on either side that the other does not follow
//! fails here, not in a differential trace.
#![forbid(unsafe_code)]

use netmap_ring::abi;
use vale_offload::counters::{PortCounter, PORT_COUNTERS};
use vale_offload::placement::PortKind;
use vale_offload::regmap::contract::*;
use vale_offload::regmap::{
    PC_COUNTERS, PORT_KIND_PIPE_MASTER, PORT_KIND_PIPE_SLAVE, PORT_KIND_VALE,
};

#[test]
fn slot_flags_are_netmaps() {
    assert_eq!(NS_BUF_CHANGED, u32::from(abi::NS_BUF_CHANGED));
    assert_eq!(NS_NO_LEARN, u32::from(abi::NS_NO_LEARN));
    assert_eq!(NS_MOREFRAG, u32::from(abi::NS_MOREFRAG));
    assert_eq!(NS_RFRAGS_SHIFT, u32::from(abi::NS_PORT_SHIFT));
}

#[test]
fn ring_and_slot_layout_are_netmaps() {
    assert_eq!(RING_HEADER_BYTES as usize, abi::RING_HEADER_SIZE);
    assert_eq!(RING_HEADER_BYTES as usize, abi::ring_off::SLOT);
    assert_eq!(SLOT_BYTES as usize, abi::SLOT_SIZE);
    assert_eq!(SLOT_BUF_IDX as usize, abi::slot_off::BUF_IDX);
    assert_eq!(SLOT_LEN as usize, abi::slot_off::LEN);
    assert_eq!(SLOT_FLAGS as usize, abi::slot_off::FLAGS);
    assert_eq!(SLOT_PTR as usize, abi::slot_off::PTR);
}

#[test]
fn limits_are_the_engines() {
    assert_eq!(MAX_FRAGS, vale_offload::chain::MAX_FRAGS);
    assert_eq!(
        BUF_FIRST_VALID,
        netmap_ring::region::RESERVED_BUFFERS,
        "buffer indexes the engines refuse"
    );
    assert_eq!(ETH_HEADER_LEN as usize, vale_offload::chain::ETH_HEADER_LEN);
}

#[test]
fn special_ports_are_the_tables() {
    assert_eq!(PORT_FLOOD, u32::from(vale_offload::table::PORT_FLOOD));
    assert_eq!(PORT_DROP, u32::from(vale_offload::table::PORT_DROP));
    assert_eq!(MAX_PORTS, u32::from(vale_offload::table::MAX_PORTS));
}

/// The contract's index of each counter. The match is exhaustive: a new
/// `PortCounter` variant does not compile until it has a row here (and
/// so in `hw/README.md`).
fn contract_index(counter: PortCounter) -> u32 {
    match counter {
        PortCounter::RxPackets => CNT_RX_PACKETS,
        PortCounter::RxBytes => CNT_RX_BYTES,
        PortCounter::TxPackets => CNT_TX_PACKETS,
        PortCounter::TxBytes => CNT_TX_BYTES,
        PortCounter::TxDropFull => CNT_TX_DROP_FULL,
        PortCounter::TxDropShort => CNT_TX_DROP_SHORT,
        PortCounter::TxDropBadSlot => CNT_TX_DROP_BAD_SLOT,
        PortCounter::TxDropSamePort => CNT_TX_DROP_SAME_PORT,
        PortCounter::TxDropChain => CNT_TX_DROP_CHAIN,
        PortCounter::RxDropFull => CNT_RX_DROP_FULL,
        PortCounter::RxDropBadBuf => CNT_RX_DROP_BAD_BUF,
        PortCounter::BadRingSyncs => CNT_BAD_RING_SYNCS,
        PortCounter::TxDropNoDest => CNT_TX_DROP_NO_DEST,
    }
}

#[test]
fn counter_indexes_are_port_counters() {
    let all = [
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
    assert_eq!(all.len(), PORT_COUNTERS);
    assert_eq!(PC_COUNTERS as usize, PORT_COUNTERS);
    for (position, counter) in all.into_iter().enumerate() {
        assert_eq!(counter as u32, contract_index(counter), "{counter:?}");
        assert_eq!(counter as usize, position, "{counter:?} out of order");
    }
}

#[test]
fn port_kinds_are_the_engines() {
    assert_eq!(PORT_KIND_VALE, PortKind::Vale as u32);
    assert_eq!(PORT_KIND_PIPE_MASTER, PortKind::PipeMaster as u32);
    assert_eq!(PORT_KIND_PIPE_SLAVE, PortKind::PipeSlave as u32);
}
