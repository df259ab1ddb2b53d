//! The VFIO driver's logic through the fake kernel and board.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use netmap_ring::shm::SharedRegion;
use vale_offload::regmap as map;
use vfio_bindings::bindings::vfio::{
    VFIO_TYPE1v2_IOMMU, VFIO_DEVICE_FLAGS_PCI, VFIO_IRQ_SET_ACTION_TRIGGER,
    VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_BAR2_REGION_INDEX,
    VFIO_PCI_MSIX_IRQ_INDEX, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
    VFIO_TYPE1_IOMMU,
};

use super::fake::{FakeSys, ADDRESS, GROUP};
use super::*;
use crate::regs;

fn open(sys: &Arc<FakeSys>) -> Result<VfioDevice<FakeSys>, VfioError> {
    VfioDevice::open(sys.clone(), ADDRESS)
}

fn healthy() -> (Arc<FakeSys>, VfioDevice<FakeSys>) {
    let sys = Arc::new(FakeSys::new());
    let dev = open(&sys).expect("bring-up on a healthy board");
    (sys, dev)
}

fn position(calls: &[String], name: &str) -> usize {
    calls
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("{name} never called: {calls:?}"))
}

#[test]
fn bring_up_follows_the_kernel_sequence() {
    let (sys, dev) = healthy();
    let calls = sys.calls();
    let order = [
        "readlink",
        "open /dev/vfio/vfio",
        "VFIO_GET_API_VERSION",
        "VFIO_CHECK_EXTENSION",
        &format!("open /dev/vfio/{GROUP}"),
        "VFIO_GROUP_GET_STATUS",
        "VFIO_GROUP_SET_CONTAINER",
        "VFIO_SET_IOMMU",
        "VFIO_GROUP_GET_DEVICE_FD",
        "VFIO_DEVICE_GET_INFO",
        "mmap",
        "pwrite",
        "VFIO_DEVICE_SET_IRQS",
        "VFIO_DEVICE_RESET",
    ];
    let positions: Vec<usize> = order.iter().map(|name| position(&calls, name)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {calls:?}"
    );
    let board = sys.board();
    assert_eq!(board.iommu, Some(VFIO_TYPE1v2_IOMMU));
    assert_eq!(board.resets, 1);
    drop(board);
    assert_eq!(dev.address(), ADDRESS);
    assert_eq!(dev.bar2_len(), 0x10000);
}

#[test]
fn short_addresses_are_normalised_and_bad_ones_refused() {
    assert_eq!(parse_pci_address("03:00.0").unwrap(), "0000:03:00.0");
    assert_eq!(parse_pci_address("0000:AF:1f.7").unwrap(), "0000:af:1f.7");
    for bad in [
        "",
        "03:00",
        "0000:03:00.8",
        "0000:03:20.0",
        "x:03:00.0",
        "0:0:0:0.0",
    ] {
        assert!(
            matches!(parse_pci_address(bad), Err(VfioError::BadAddress(_))),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn the_register_map_is_read_through_the_mapped_bar0() {
    let (sys, mut dev) = healthy();
    let info = regs::probe(&mut dev).unwrap();
    assert_eq!(info.table_rows, 1024);
    assert_eq!(info.ports.count, 8);
    let reads = dev.counters().mmio_reads;
    assert!(reads > 0);
    dev.bar0_write(map::DEV_SCRATCH, 0x5a5a_1234).unwrap();
    assert_eq!(sys.board().bar0.get(map::DEV_SCRATCH), 0x5a5a_1234);
    assert_eq!(dev.bar0_read(map::DEV_SCRATCH).unwrap(), 0x5a5a_1234);
    assert_eq!(dev.counters().mmio_reads, reads + 1);
    assert_eq!(dev.counters().mmio_writes, 1);
    assert!(matches!(
        dev.bar0_read(map::BAR0_SIZE),
        Err(DeviceError::OutOfRange { .. })
    ));
}

#[test]
fn bus_mastering_and_memory_decoding_are_enabled_others_kept() {
    let (sys, _dev) = healthy();
    let config = sys.board().config;
    let command = u16::from_le_bytes([config[4], config[5]]);
    assert_eq!(command, 0x01 | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

#[test]
fn every_msix_vector_gets_its_own_eventfd() {
    let (sys, mut dev) = healthy();
    assert_eq!(dev.vectors(), 4);
    let set = sys.board().irq_sets[0].clone();
    assert_eq!(set.index, VFIO_PCI_MSIX_IRQ_INDEX);
    assert_eq!(
        set.flags,
        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER
    );
    assert_eq!((set.start, set.count), (0, 4));
    for vector in 0..4 {
        let fd = dev.notifier(vector).unwrap();
        assert_eq!(set.eventfds[vector as usize], fd.as_fd().as_raw_fd());
    }
    sys.board().fire(2);
    assert_eq!(dev.notifier(2).unwrap().drain().unwrap(), 1);
    assert_eq!(dev.notifier(1).unwrap().drain().unwrap(), 0);
    assert!(matches!(
        dev.notifier(4),
        Err(DeviceError::NoVector {
            vector: 4,
            count: 4
        })
    ));
}

#[test]
fn dma_regions_are_mapped_at_their_address_and_unmapped() {
    let (sys, mut dev) = healthy();
    let page = rustix::param::page_size();
    let a = dev.dma_alloc("vfio-test-a", 4 * page).unwrap();
    let b = dev.dma_alloc("vfio-test-b", page).unwrap();
    {
        let board = sys.board();
        assert_eq!(
            board.dma,
            [
                (a.iova, a.region.base_addr() as u64, 4 * page as u64),
                (b.iova, b.region.base_addr() as u64, page as u64)
            ]
        );
    }
    assert!(a.iova >= IOVA_BASE && b.iova >= a.iova + 4 * page as u64);
    dev.dma_unmap(a.iova).unwrap();
    assert_eq!(sys.board().dma.len(), 1);
    assert!(matches!(
        dev.dma_unmap(a.iova),
        Err(DeviceError::NotMapped { .. })
    ));
    assert!(matches!(
        dev.dma_unmap(b.iova + 8),
        Err(DeviceError::NotMapped { .. })
    ));
}

#[test]
fn dma_of_a_partial_page_is_refused() {
    let (sys, mut dev) = healthy();
    let region = Arc::new(SharedRegion::create("vfio-test-odd", 100).unwrap());
    assert!(matches!(
        dev.dma_map(region),
        Err(DeviceError::Unsupported { .. })
    ));
    assert!(sys.board().dma.is_empty());
}

#[test]
fn a_failed_dma_map_keeps_errno_and_bookkeeping() {
    let (sys, mut dev) = healthy();
    let page = rustix::param::page_size();
    sys.fail("VFIO_IOMMU_MAP_DMA", libc::ENOMEM);
    let err = dev.dma_alloc("vfio-test-fail", page).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENOMEM));
    sys.board().failures.clear();
    // Nothing was left reserved: the next mapping succeeds and unmaps.
    let ok = dev.dma_alloc("vfio-test-ok", page).unwrap();
    dev.dma_unmap(ok.iova).unwrap();
    assert!(sys.board().dma.is_empty());
}

#[test]
fn dropping_the_device_releases_irqs_dma_and_bars() {
    let (sys, mut dev) = healthy();
    let page = rustix::param::page_size();
    dev.dma_alloc("vfio-test-drop", page).unwrap();
    drop(dev);
    let board = sys.board();
    assert!(board.dma.is_empty(), "DMA left mapped");
    let last = board.irq_sets.last().unwrap();
    assert_eq!(
        last.flags,
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER
    );
    assert_eq!(last.count, 0);
    assert_eq!(board.unmapped.len(), 2, "BAR0 and BAR2 unmapped");
}

#[test]
fn bar2_goes_write_combined_when_sysfs_offers_it() {
    let sys = Arc::new(FakeSys::new());
    sys.board().wc_resource = true;
    let mut dev = open(&sys).unwrap();
    assert!(sys
        .calls()
        .contains(&format!("open /sys/bus/pci/devices/{ADDRESS}/resource2_wc")));
    dev.bar2_write(0x100, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(&sys.board().bar2[0x100..0x108], &[1, 2, 3, 4, 5, 6, 7, 8]);
    let mut back = [0u8; 8];
    dev.bar2_read(0x100, &mut back).unwrap();
    assert_eq!(back, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(dev.counters().bar2_write_bytes, 8);
}

#[test]
fn bar2_falls_back_to_file_io_when_not_mappable() {
    let sys = Arc::new(FakeSys::new());
    sys.board()
        .regions
        .get_mut(&VFIO_PCI_BAR2_REGION_INDEX)
        .unwrap()
        .flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    let mut dev = open(&sys).unwrap();
    dev.bar2_write(0xfff8, &[9; 8]).unwrap();
    assert_eq!(&sys.board().bar2[0xfff8..], &[9; 8]);
    assert!(matches!(
        dev.bar2_write(0xfffc, &[0; 8]),
        Err(DeviceError::OutOfRange { .. })
    ));
    assert!(matches!(
        dev.bar2_write(2, &[0; 4]),
        Err(DeviceError::Misaligned { .. })
    ));
}

#[test]
fn type1_is_the_fallback_of_old_kernels() {
    let sys = Arc::new(FakeSys::new());
    sys.board().extensions = vec![VFIO_TYPE1_IOMMU];
    open(&sys).unwrap();
    assert_eq!(sys.board().iommu, Some(VFIO_TYPE1_IOMMU));
}

#[test]
fn bring_up_errors_say_what_is_wrong_and_keep_errno() {
    type Case = (&'static str, Box<dyn Fn(&FakeSys)>, fn(&VfioError) -> bool);
    let cases: Vec<Case> = vec![
        (
            "no iommu group",
            Box::new(|s| s.fail("readlink", libc::ENOENT)),
            |e| matches!(e, VfioError::NoGroup { .. }) && e.errno() == Some(libc::ENOENT),
        ),
        (
            "no permission on the group",
            Box::new(|s| s.fail(&format!("open /dev/vfio/{GROUP}"), libc::EACCES)),
            |e| matches!(e, VfioError::Open { .. }) && e.errno() == Some(libc::EACCES),
        ),
        (
            "api version",
            Box::new(|s| s.board().api_version = 1),
            |e| matches!(e, VfioError::ApiVersion(1)),
        ),
        (
            "no type1",
            Box::new(|s| s.board().extensions.clear()),
            |e| matches!(e, VfioError::NoIommu),
        ),
        (
            "group not viable",
            Box::new(|s| s.board().viable = false),
            |e| matches!(e, VfioError::NotViable { group: GROUP }),
        ),
        (
            "device busy",
            Box::new(|s| s.fail("VFIO_GROUP_GET_DEVICE_FD", libc::EBUSY)),
            |e| {
                matches!(
                    e,
                    VfioError::Ioctl {
                        op: "VFIO_GROUP_GET_DEVICE_FD",
                        ..
                    }
                ) && e.errno() == Some(libc::EBUSY)
            },
        ),
        (
            "not pci",
            Box::new(|s| s.board().device_flags &= !VFIO_DEVICE_FLAGS_PCI),
            |e| matches!(e, VfioError::BadDevice { .. }),
        ),
        (
            "bar0 too small",
            Box::new(|s| {
                s.board()
                    .regions
                    .get_mut(&VFIO_PCI_BAR0_REGION_INDEX)
                    .unwrap()
                    .size = 0x1000
            }),
            |e| matches!(e, VfioError::BadDevice { .. }),
        ),
        (
            "irq binding refused",
            Box::new(|s| s.fail("VFIO_DEVICE_SET_IRQS", libc::EINVAL)),
            |e| e.errno() == Some(libc::EINVAL),
        ),
        (
            "reset fails",
            Box::new(|s| s.fail("VFIO_DEVICE_RESET", libc::EIO)),
            |e| e.errno() == Some(libc::EIO),
        ),
    ];
    for (what, setup, expected) in cases {
        let sys = Arc::new(FakeSys::new());
        setup(&sys);
        match open(&sys) {
            Ok(_) => panic!("{what}: bring-up succeeded"),
            Err(e) => assert!(expected(&e), "{what}: unexpected error {e:?}"),
        }
    }
}

#[test]
fn a_device_without_reset_comes_up_and_says_reset_is_unsupported() {
    let sys = Arc::new(FakeSys::new());
    sys.board().device_flags = VFIO_DEVICE_FLAGS_PCI;
    let mut dev = open(&sys).unwrap();
    assert!(!sys.calls().iter().any(|c| c == "VFIO_DEVICE_RESET"));
    assert!(matches!(dev.reset(), Err(DeviceError::Unsupported { .. })));
}
