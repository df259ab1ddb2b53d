//! BAR0 register access: the block list walk, device identification and
//! the port table, after hw/README.md ("BAR0 register map").
//!
//! BAR0 is a linked list of blocks, each starting with type, version and
//! the BAR0 offset of the next block. The driver never assumes where a
//! block is: it walks the list from offset 0 and addresses every register
//! relative to the block it found. The `regmap` constants are absolute
//! offsets at the blocks' current places, so a register's offset inside
//! its block is `REGISTER - BLOCK_BASE`.
#![forbid(unsafe_code)]

use vale_offload::regmap as map;

use crate::device::{Device, DeviceError};

/// Major version of each block this driver understands; a block with
/// another major is refused, a higher minor is accepted (hw/README.md:
/// version = major << 16 | minor).
pub const KNOWN_MAJOR: u32 = 1;

/// Upper bound on blocks in the list: a corrupt list that loops or runs
/// through random memory ends the walk with an error.
pub const MAX_BLOCKS: usize = 32;

/// Why the register interface is not usable.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("not our device: id {found:#010x} at BAR0 0 (expected {expected:#010x})")]
    WrongDevice { found: u32, expected: u32 },
    #[error("block list: block at {offset:#x} points to {next:#x}, outside BAR0 or misaligned")]
    BadLink { offset: u32, next: u32 },
    #[error("block list loops or has more than {MAX_BLOCKS} blocks")]
    Loop,
    #[error("no block of type {kind:#010x} ({name})")]
    Missing { kind: u32, name: &'static str },
    #[error("block {name} has version {found:#x}; this driver knows major {KNOWN_MAJOR}")]
    Version { name: &'static str, found: u32 },
    #[error("port table: {why}")]
    PortTable { why: String },
}

/// One register block found in BAR0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub kind: u32,
    pub version: u32,
    /// BAR0 offset of the block header.
    pub offset: u32,
}

impl Block {
    /// BAR0 offset of a register given by its absolute `regmap` offset in a
    /// block whose documented base is `base`.
    pub fn reg(&self, base: u32, register: u32) -> u32 {
        self.offset + (register - base)
    }
}

/// Human name of a block type, for errors.
pub fn block_name(kind: u32) -> &'static str {
    match kind {
        map::TYPE_DEVICE => "device",
        map::TYPE_SWITCH => "switch",
        map::TYPE_PORT_TABLE => "port table",
        map::TYPE_DOORBELL => "doorbell",
        map::TYPE_NOTIFY => "notify",
        _ => "unknown",
    }
}

/// Walks the block list from BAR0 offset 0 (hw/README.md: "A driver walks
/// the list from offset 0 and finds blocks by type").
pub fn walk_blocks(dev: &mut dyn Device) -> Result<Vec<Block>, RegisterError> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut offset = 0u32;
    loop {
        if blocks.len() == MAX_BLOCKS || blocks.iter().any(|b| b.offset == offset) {
            return Err(RegisterError::Loop);
        }
        let block = Block {
            kind: dev.bar0_read(offset + map::BLOCK_TYPE)?,
            version: dev.bar0_read(offset + map::BLOCK_VERSION)?,
            offset,
        };
        let next = dev.bar0_read(offset + map::BLOCK_NEXT)?;
        blocks.push(block);
        if next == 0 {
            return Ok(blocks);
        }
        // The next header's three registers must fit inside BAR0.
        if !next.is_multiple_of(4) || next > map::BAR0_SIZE - 12 {
            return Err(RegisterError::BadLink { offset, next });
        }
        offset = next;
    }
}

/// The blocks of one device, found by type.
#[derive(Clone, Debug)]
pub struct BlockMap {
    pub blocks: Vec<Block>,
}

impl BlockMap {
    /// The first block of type `kind`, with a known major version.
    pub fn find(&self, kind: u32) -> Result<Block, RegisterError> {
        let name = block_name(kind);
        let block = self
            .blocks
            .iter()
            .find(|b| b.kind == kind)
            .ok_or(RegisterError::Missing { kind, name })?;
        if block.version >> 16 != KNOWN_MAJOR {
            return Err(RegisterError::Version {
                name,
                found: block.version,
            });
        }
        Ok(*block)
    }

    /// Like [`BlockMap::find`], but `None` when the device has no such block
    /// (optional blocks of later revisions).
    pub fn find_optional(&self, kind: u32) -> Result<Option<Block>, RegisterError> {
        match self.find(kind) {
            Ok(block) => Ok(Some(block)),
            Err(RegisterError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// What the driver learns from BAR0 at bring-up.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub blocks: BlockMap,
    /// RTL revision, major << 16 | minor.
    pub revision: u32,
    pub datapath_bits: u32,
    pub clock_mhz: u32,
    /// MAC table geometry and hash.
    pub table_rows: u32,
    pub table_ways: u32,
    pub hash_id: u32,
    pub switch_ports: u32,
    /// Rings per direction per port the data path serves (`DEV_RINGS`).
    pub device_rings: u32,
    pub ports: PortTable,
    /// The data path blocks, absent on revisions before the data path.
    pub doorbells: Option<Block>,
    pub notify: Option<Block>,
}

/// Identifies the device and reads its geometry (hw/README.md, device,
/// switch and port table blocks).
pub fn probe(dev: &mut dyn Device) -> Result<DeviceInfo, RegisterError> {
    // The device block sits at offset 0 so that a driver can tell whether
    // it talks to this device before trusting anything else.
    let id = dev.bar0_read(map::DEV_ID - map::DEVICE_BASE)?;
    if id != map::DEVICE_ID_VALUE {
        return Err(RegisterError::WrongDevice {
            found: id,
            expected: map::DEVICE_ID_VALUE,
        });
    }
    let blocks = BlockMap {
        blocks: walk_blocks(dev)?,
    };
    let device = blocks.find(map::TYPE_DEVICE)?;
    let switch = blocks.find(map::TYPE_SWITCH)?;
    let table = blocks.find(map::TYPE_PORT_TABLE)?;
    let dev_reg = |r| device.reg(map::DEVICE_BASE, r);
    let sw_reg = |r| switch.reg(map::SWITCH_BASE, r);
    let info = DeviceInfo {
        revision: dev.bar0_read(dev_reg(map::DEV_REVISION))?,
        datapath_bits: dev.bar0_read(dev_reg(map::DEV_DATAPATH_BITS))?,
        clock_mhz: dev.bar0_read(dev_reg(map::DEV_CLOCK_MHZ))?,
        table_rows: dev.bar0_read(sw_reg(map::SW_ROWS))?,
        table_ways: dev.bar0_read(sw_reg(map::SW_WAYS))?,
        hash_id: dev.bar0_read(sw_reg(map::SW_HASH_ID))?,
        switch_ports: dev.bar0_read(sw_reg(map::SW_MAX_PORTS))?,
        device_rings: dev.bar0_read(dev_reg(map::DEV_RINGS))?,
        ports: PortTable::probe(dev, table)?,
        doorbells: blocks.find_optional(map::TYPE_DOORBELL)?,
        notify: blocks.find_optional(map::TYPE_NOTIFY)?,
        blocks,
    };
    Ok(info)
}

/// The port table block: `count` entries of `stride` bytes from `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortTable {
    pub block: Block,
    pub count: u32,
    pub stride: u32,
    pub first: u32,
}

/// What the host writes into one port entry (hw/README.md, `PORT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortEntry {
    /// `PORT_KIND_*`.
    pub kind: u32,
    pub tx_rings: u16,
    pub rx_rings: u16,
    pub tx_slots: u16,
    pub rx_slots: u16,
    pub buf_size: u32,
    /// Entry index of the other pipe end (pipes only).
    pub pipe_peer: u32,
    /// BAR2 offset of the port's TX rings.
    pub ring_addr: u64,
    /// Device address of the buffer pool.
    pub pool_addr: u64,
    /// Device address of the ring status blocks.
    pub status_addr: u64,
    /// Buffers in the pool (indexes 2 .. num_bufs - 1 are valid).
    pub num_bufs: u32,
    /// Device address of RX ring 0 (host memory).
    pub rx_ring_addr: u64,
    /// Host copy of TX ring 0 at `status_addr` + this: where pipe
    /// crossover writes the swapped slots back (0: nowhere, BAR2 only).
    pub tx_host_ring_off: u32,
}

impl PortTable {
    fn probe(dev: &mut dyn Device, block: Block) -> Result<Self, RegisterError> {
        let reg = |r| block.reg(map::PORT_TABLE_BASE, r);
        let table = PortTable {
            block,
            count: dev.bar0_read(reg(map::PT_COUNT))?,
            stride: dev.bar0_read(reg(map::PT_STRIDE))?,
            first: dev.bar0_read(reg(map::PT_FIRST))?,
        };
        let bad = |why: String| Err(RegisterError::PortTable { why });
        if table.stride < map::PORT_ENTRY_REGS * 4 || !table.stride.is_multiple_of(4) {
            return bad(format!("stride {:#x} cannot hold an entry", table.stride));
        }
        if table.count == 0 || table.count > 254 {
            return bad(format!("{} entries (1..=254 expected)", table.count));
        }
        let end = u64::from(table.first) + u64::from(table.count) * u64::from(table.stride);
        if !table.first.is_multiple_of(4) || end > u64::from(map::BAR0_SIZE) {
            return bad(format!(
                "{} entries from {:#x} do not fit in BAR0",
                table.count, table.first
            ));
        }
        Ok(table)
    }

    /// BAR0 offset of register `reg` (a `PORT_*` offset) of entry `index`.
    pub fn register(&self, index: u32, reg: u32) -> u32 {
        self.first + index * self.stride + reg
    }

    fn check_index(&self, index: u32) -> Result<(), RegisterError> {
        if index >= self.count {
            return Err(RegisterError::PortTable {
                why: format!("no entry {index} ({} entries)", self.count),
            });
        }
        Ok(())
    }

    /// Programs entry `index` and enables it. The enable bit is written
    /// last so the device never sees a half-written entry enabled.
    pub fn program(
        &self,
        dev: &mut dyn Device,
        index: u32,
        entry: &PortEntry,
    ) -> Result<(), RegisterError> {
        self.check_index(index)?;
        self.disable(dev, index)?;
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        let writes = [
            (map::PORT_KIND, entry.kind),
            (
                map::PORT_RINGS,
                u32::from(entry.rx_rings) << 16 | u32::from(entry.tx_rings),
            ),
            (
                map::PORT_SLOTS,
                u32::from(entry.rx_slots) << 16 | u32::from(entry.tx_slots),
            ),
            (map::PORT_BUF_SIZE, entry.buf_size),
            (map::PORT_PIPE_PEER, entry.pipe_peer),
            (map::PORT_RING_ADDR_LO, lo(entry.ring_addr)),
            (map::PORT_RING_ADDR_HI, hi(entry.ring_addr)),
            (map::PORT_POOL_ADDR_LO, lo(entry.pool_addr)),
            (map::PORT_POOL_ADDR_HI, hi(entry.pool_addr)),
            (map::PORT_STATUS_ADDR_LO, lo(entry.status_addr)),
            (map::PORT_STATUS_ADDR_HI, hi(entry.status_addr)),
            (map::PORT_NUM_BUFS, entry.num_bufs),
            (map::PORT_RX_RING_ADDR_LO, lo(entry.rx_ring_addr)),
            (map::PORT_RX_RING_ADDR_HI, hi(entry.rx_ring_addr)),
            (map::PORT_TX_HOST_RING_OFF, entry.tx_host_ring_off),
        ];
        for (reg, value) in writes {
            dev.bar0_write(self.register(index, reg), value)?;
        }
        dev.bar0_write(
            self.register(index, map::PORT_CONTROL),
            map::PORT_CONTROL_ENABLE,
        )?;
        Ok(())
    }

    /// Disables entry `index` (the device stops using its rings).
    pub fn disable(&self, dev: &mut dyn Device, index: u32) -> Result<(), RegisterError> {
        self.check_index(index)?;
        dev.bar0_write(self.register(index, map::PORT_CONTROL), 0)?;
        Ok(())
    }

    /// Reads entry `index` back (control path and tests).
    pub fn read(
        &self,
        dev: &mut dyn Device,
        index: u32,
    ) -> Result<(PortEntry, bool), RegisterError> {
        self.check_index(index)?;
        let mut read = |reg| dev.bar0_read(self.register(index, reg));
        let wide = |lo: u32, hi: u32| u64::from(hi) << 32 | u64::from(lo);
        let rings = read(map::PORT_RINGS)?;
        let slots = read(map::PORT_SLOTS)?;
        let entry = PortEntry {
            kind: read(map::PORT_KIND)?,
            tx_rings: rings as u16,
            rx_rings: (rings >> 16) as u16,
            tx_slots: slots as u16,
            rx_slots: (slots >> 16) as u16,
            buf_size: read(map::PORT_BUF_SIZE)?,
            pipe_peer: read(map::PORT_PIPE_PEER)?,
            ring_addr: wide(read(map::PORT_RING_ADDR_LO)?, read(map::PORT_RING_ADDR_HI)?),
            pool_addr: wide(read(map::PORT_POOL_ADDR_LO)?, read(map::PORT_POOL_ADDR_HI)?),
            status_addr: wide(
                read(map::PORT_STATUS_ADDR_LO)?,
                read(map::PORT_STATUS_ADDR_HI)?,
            ),
            num_bufs: read(map::PORT_NUM_BUFS)?,
            rx_ring_addr: wide(
                read(map::PORT_RX_RING_ADDR_LO)?,
                read(map::PORT_RX_RING_ADDR_HI)?,
            ),
            tx_host_ring_off: read(map::PORT_TX_HOST_RING_OFF)?,
        };
        let enabled = read(map::PORT_CONTROL)? & map::PORT_CONTROL_ENABLE != 0;
        Ok((entry, enabled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RegisterImage;

    #[test]
    fn probe_reads_the_documented_map() {
        let mut dev = RegisterImage::documented(8);
        let info = probe(&mut dev).unwrap();
        let kinds: Vec<u32> = info.blocks.blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [map::TYPE_DEVICE, map::TYPE_SWITCH, map::TYPE_PORT_TABLE]
        );
        assert_eq!((info.table_rows, info.table_ways), (1024, 1));
        assert_eq!(info.ports.count, 8);
        assert_eq!(info.ports.first, map::PORT_ENTRY_BASE);
        assert!(info.doorbells.is_none());
    }

    #[test]
    fn blocks_are_found_where_the_list_says_not_where_the_map_says() {
        // Move the switch block: the driver must follow the list.
        let mut dev = RegisterImage::documented(8);
        dev.move_block(map::SWITCH_BASE, 0x3000);
        let info = probe(&mut dev).unwrap();
        assert_eq!(info.blocks.find(map::TYPE_SWITCH).unwrap().offset, 0x3000);
        assert_eq!(info.table_rows, 1024);
    }

    #[test]
    fn a_foreign_device_is_refused() {
        let mut dev = RegisterImage::documented(8);
        dev.set(map::DEV_ID, 0x8086_1234);
        assert!(matches!(
            probe(&mut dev),
            Err(RegisterError::WrongDevice {
                found: 0x8086_1234,
                ..
            })
        ));
    }

    #[test]
    fn a_looping_list_ends_with_an_error() {
        let mut dev = RegisterImage::documented(8);
        dev.set(map::PORT_TABLE_BASE + map::BLOCK_NEXT, map::SWITCH_BASE);
        assert!(matches!(walk_blocks(&mut dev), Err(RegisterError::Loop)));
    }

    #[test]
    fn a_link_outside_bar0_is_refused() {
        let mut dev = RegisterImage::documented(8);
        dev.set(map::SWITCH_BASE + map::BLOCK_NEXT, 0xfffc);
        assert!(matches!(
            walk_blocks(&mut dev),
            Err(RegisterError::BadLink { next: 0xfffc, .. })
        ));
        dev.set(map::SWITCH_BASE + map::BLOCK_NEXT, 0x1002);
        assert!(matches!(
            walk_blocks(&mut dev),
            Err(RegisterError::BadLink { .. })
        ));
    }

    #[test]
    fn an_unknown_major_version_is_refused_a_new_minor_accepted() {
        let mut dev = RegisterImage::documented(8);
        dev.set(map::SWITCH_BASE + map::BLOCK_VERSION, 0x0001_0003);
        assert_eq!(probe(&mut dev).unwrap().table_rows, 1024);
        dev.set(map::SWITCH_BASE + map::BLOCK_VERSION, 0x0002_0000);
        assert!(matches!(
            probe(&mut dev),
            Err(RegisterError::Version { name: "switch", .. })
        ));
    }

    #[test]
    fn an_impossible_port_table_is_refused() {
        let mut dev = RegisterImage::documented(8);
        dev.set(map::PT_COUNT, 255);
        assert!(matches!(
            probe(&mut dev),
            Err(RegisterError::PortTable { .. })
        ));
        let mut dev = RegisterImage::documented(8);
        dev.set(map::PT_STRIDE, 8);
        assert!(matches!(
            probe(&mut dev),
            Err(RegisterError::PortTable { .. })
        ));
    }

    #[test]
    fn port_entries_round_trip_and_enable_last() {
        let mut dev = RegisterImage::documented(8);
        let info = probe(&mut dev).unwrap();
        let entry = PortEntry {
            kind: map::PORT_KIND_VALE,
            tx_rings: 2,
            rx_rings: 3,
            tx_slots: 256,
            rx_slots: 1024,
            buf_size: 2112,
            pipe_peer: 0,
            ring_addr: 0x4000,
            pool_addr: 0x1_2340_0000,
            status_addr: 0x2_0000_1000,
            num_bufs: 4096,
            rx_ring_addr: 0x1_2340_8000,
            tx_host_ring_off: 0x800,
        };
        dev.clear_log();
        info.ports.program(&mut dev, 5, &entry).unwrap();
        let control = info.ports.register(5, map::PORT_CONTROL);
        let log = dev.write_log();
        assert_eq!(log.first(), Some(&(control, 0)), "disabled first");
        assert_eq!(
            log.last(),
            Some(&(control, map::PORT_CONTROL_ENABLE)),
            "enabled last"
        );
        assert_eq!(info.ports.read(&mut dev, 5).unwrap(), (entry, true));
        info.ports.disable(&mut dev, 5).unwrap();
        assert!(!info.ports.read(&mut dev, 5).unwrap().1);
        assert!(info.ports.program(&mut dev, 8, &entry).is_err());
    }
}
