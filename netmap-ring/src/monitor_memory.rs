//! The private memory a monitor binds when it cannot share the monitored
//! port's: one RX ring with its buffers, and a netmap_if that lists a TX
//! ring without binding it, as netmap's monitors present themselves.
//! Device-port monitors (in the driver) and NIC monitors (over AF_PACKET)
//! both fill such a ring from the side.

use std::sync::Arc;

use crate::name::PortName;
use crate::port::{BindingLayout, BufferPool, PortError, RingSpec};
use crate::region::{NetmapMemory, RegionConfig, PAGE_SIZE, RESERVED_BUFFERS};
use crate::view::{format_if, Direction, IfDescription};

/// A monitor's memory, its one RX ring and the layout a registration hands out.
pub struct MonitorMemory {
    pub memory: NetmapMemory,
    pub ring: RingSpec,
    pub layout: BindingLayout,
}

impl MonitorMemory {
    /// Creates the shared memory `shm_name` holding one `slots`-slot RX ring
    /// for the monitor `name`, every slot with a buffer of its own.
    pub fn create(shm_name: &str, name: &PortName, slots: u32) -> Result<Self, PortError> {
        let no_memory = |why: String| PortError::NoMemory {
            name: name.to_string(),
            why,
        };
        let config = RegionConfig {
            ctrl_size: PAGE_SIZE,
            if_objects: 1,
            ring_objects: 1,
            max_ring_slots: slots,
            num_bufs: RESERVED_BUFFERS + slots,
            ..RegionConfig::default()
        };
        let memory =
            NetmapMemory::create(shm_name, config).map_err(|e| no_memory(e.to_string()))?;
        let region = Arc::clone(memory.region());
        let offset = memory
            .alloc_fresh_ring(0, Direction::Rx, slots)
            .map_err(|e| no_memory(e.to_string()))?
            .offset;
        let if_offset = memory.alloc_if().map_err(|e| no_memory(e.to_string()))?;
        format_if(
            &region,
            if_offset,
            &IfDescription {
                name: name.nr_name(),
                tx_rings: 1,
                rx_rings: 1,
                rings: vec![None, Some(offset)],
                ..Default::default()
            },
        )
        .map_err(|e| no_memory(e.to_string()))?;
        let ring = RingSpec {
            id: 0,
            offset,
            num_slots: slots,
        };
        let layout = BindingLayout {
            region,
            if_offset,
            tx_rings: Vec::new(),
            rx_rings: vec![ring],
            buffers: BufferPool {
                base: memory.layout().buf_off,
                buf_size: memory.buf_size(),
                num_bufs: memory.num_bufs(),
            },
            nr_flags: name.flags.nr_flags(),
        };
        Ok(Self {
            memory,
            ring,
            layout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::RingView;

    #[test]
    fn one_rx_ring_with_a_buffer_per_slot() {
        let name = "vale0:a/r".parse::<PortName>().unwrap();
        let mon = MonitorMemory::create("monitor-memory-test", &name, 64).unwrap();
        assert!(mon.layout.tx_rings.is_empty());
        assert_eq!(mon.layout.rx_rings, vec![mon.ring]);
        assert_eq!(mon.ring.num_slots, 64);
        let view = RingView::new(mon.memory.region(), mon.ring.offset, 64).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..64 {
            let idx = view.slot(i).buf_idx;
            assert!(
                mon.layout.buffers.offset(idx).is_some(),
                "slot {i}: buffer {idx}"
            );
            assert!(idx >= RESERVED_BUFFERS, "slot {i} holds a reserved buffer");
            assert!(seen.insert(idx), "buffer {idx} in two slots");
        }
    }
}
