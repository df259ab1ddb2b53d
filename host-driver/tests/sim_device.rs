//! The driver's register layer against the RTL itself (the `sim` body):
//! the block walk, identification and the port table, as the board would
//! answer them.

use host_driver::device::{Device, DeviceError};
use host_driver::regs::{self, PortEntry};
use host_driver::sim::SimDevice;
use vale_offload::regmap as map;

#[test]
fn the_rtl_answers_the_probe() {
    let mut dev = SimDevice::new().unwrap();
    let info = regs::probe(&mut dev).unwrap();
    assert_eq!(info.revision, map::DEV_REVISION_VALUE);
    assert_eq!(info.hash_id, map::HASH_ID_NETMAP);
    assert_eq!((info.table_rows, info.table_ways), (1024, 1));
    assert_eq!(info.switch_ports, 254);
    assert!(info.ports.count >= 2);
    assert_eq!(dev.vectors(), info.ports.count, "one notification per port");
    let counters = dev.counters();
    assert!(counters.mmio_reads >= 12 && counters.cycles > 0);
}

#[test]
fn port_entries_program_and_read_back_on_the_rtl() {
    let mut dev = SimDevice::new().unwrap();
    let info = regs::probe(&mut dev).unwrap();
    let entry = PortEntry {
        kind: map::PORT_KIND_PIPE_MASTER,
        tx_rings: 1,
        rx_rings: 1,
        tx_slots: 256,
        rx_slots: 256,
        buf_size: 2112,
        pipe_peer: 1,
        ring_addr: 0x800,
        pool_addr: 0x1_0000_0000,
        status_addr: 0x1_0020_0000,
        num_bufs: 1024,
        rx_ring_addr: 0x1_0010_0000,
        tx_host_ring_off: 0x800,
    };
    info.ports.program(&mut dev, 0, &entry).unwrap();
    assert_eq!(info.ports.read(&mut dev, 0).unwrap(), (entry, true));
    dev.reset().unwrap();
    let (after, enabled) = info.ports.read(&mut dev, 0).unwrap();
    assert!(!enabled, "reset disables every port");
    assert_eq!(after.kind, map::PORT_KIND_NONE);
}

#[test]
fn dma_regions_get_distinct_high_addresses() {
    let mut dev = SimDevice::new().unwrap();
    let a = dev.dma_alloc("sim-dma-a", 8192).unwrap();
    let b = dev.dma_alloc("sim-dma-b", 8192).unwrap();
    assert!(a.iova >= 1 << 32, "addresses above 4 GiB catch truncation");
    assert!(b.iova >= a.iova + 8192);
    dev.dma_unmap(a.iova).unwrap();
    assert!(matches!(
        dev.dma_unmap(a.iova),
        Err(DeviceError::NotMapped { .. })
    ));
}
