//! `NR_REG_NULL` ports and netmap's global allocator (memory id 1).
//!
//! A null port has rings and buffers but no data path: netmap uses it to
//! reserve memory of an allocator. Any name is accepted, the geometry is
//! the one asked for, and syncs move nothing: txsync hands every slot back
//! (tail = head - 1), rxsync never brings a packet. Its memory is a region
//! of this process standing for netmap's global allocator, id 1.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock};

use netmap_ring::abi::ring_off;
use netmap_ring::port::{Binding, BindingLayout, BufferPool, RingSpec, SyncError};
use netmap_ring::region::{NetmapMemory, RegionConfig};
use netmap_ring::view::{format_if, Direction, IfDescription, RingView};

use crate::error::NmError;

/// Most rings and slots a null port may ask for (netmap's bounds).
const MAX_RINGS: u16 = 16;
const MAX_SLOTS: u32 = 4096;

/// The global allocator: created on first use, one per process.
pub fn global() -> Result<&'static NetmapMemory, NmError> {
    static GLOBAL: OnceLock<NetmapMemory> = OnceLock::new();
    static CREATING: Mutex<()> = Mutex::new(());
    if let Some(memory) = GLOBAL.get() {
        return Ok(memory);
    }
    let _one = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(memory) = GLOBAL.get() {
        return Ok(memory);
    }
    let config = RegionConfig {
        if_objects: 64,
        ring_objects: 256,
        num_bufs: 16384,
        ..RegionConfig::default()
    };
    let memory =
        NetmapMemory::create("netmap-preload-global", config).map_err(|e| NmError::Errno {
            errno: libc::ENOMEM,
            why: format!("global allocator: {e}"),
        })?;
    crate::mem::assign(memory.region().as_fd().as_raw_fd(), 1);
    Ok(GLOBAL.get_or_init(|| memory))
}

/// A bound null port.
pub struct NullBinding {
    memory: &'static NetmapMemory,
    layout: BindingLayout,
    /// Never signalled: a null port has no traffic to wait for.
    wake: OwnedFd,
}

fn no_memory(e: impl std::fmt::Display) -> NmError {
    NmError::Errno {
        errno: libc::ENOMEM,
        why: format!("null port: {e}"),
    }
}

/// Registers a null port named `name` with the geometry asked for.
pub fn register(
    name: &str,
    tx_rings: u16,
    rx_rings: u16,
    tx_slots: u32,
    rx_slots: u32,
) -> Result<NullBinding, NmError> {
    let rings = |v: u16| match v {
        0 => Ok(1),
        1..=MAX_RINGS => Ok(u32::from(v)),
        _ => Err(NmError::Invalid(format!("{v} rings: use 1..={MAX_RINGS}"))),
    };
    let slots = |v: u32| match v {
        0 => Ok(1024),
        1..=MAX_SLOTS => Ok(v),
        _ => Err(NmError::Invalid(format!("{v} slots: use 1..={MAX_SLOTS}"))),
    };
    let (tx_rings, rx_rings) = (rings(tx_rings)?, rings(rx_rings)?);
    let (tx_slots, rx_slots) = (slots(tx_slots)?, slots(rx_slots)?);
    let memory = global()?;
    let region = memory.region();
    let wake = crate::sys::new_eventfd(true).map_err(|errno| NmError::Errno {
        errno,
        why: "eventfd".into(),
    })?;
    // SAFETY: a descriptor just created and owned by nobody else.
    let wake = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(wake) };
    let if_off = memory.alloc_if().map_err(no_memory)?;
    let mut binding = NullBinding {
        memory,
        layout: BindingLayout {
            region: Arc::clone(region),
            if_offset: if_off,
            tx_rings: Vec::new(),
            rx_rings: Vec::new(),
            buffers: BufferPool {
                base: memory.layout().buf_off,
                buf_size: memory.buf_size(),
                num_bufs: memory.num_bufs(),
            },
            nr_flags: 0,
        },
        wake,
    };
    for (dir, count, slots) in [
        (Direction::Tx, tx_rings, tx_slots),
        (Direction::Rx, rx_rings, rx_slots),
    ] {
        for id in 0..count {
            let offset = memory
                .alloc_fresh_ring(id as u16, dir, slots)
                .map_err(no_memory)?
                .offset;
            let spec = RingSpec {
                id,
                offset,
                num_slots: slots,
            };
            match dir {
                Direction::Tx => binding.layout.tx_rings.push(spec),
                Direction::Rx => binding.layout.rx_rings.push(spec),
            }
        }
    }
    let rings = binding
        .layout
        .tx_rings
        .iter()
        .chain(&binding.layout.rx_rings)
        .map(|r| Some(r.offset))
        .collect();
    let description = IfDescription {
        name: name.to_owned(),
        tx_rings,
        rx_rings,
        rings,
        ..Default::default()
    };
    format_if(region, if_off, &description).map_err(no_memory)?;
    Ok(binding)
}

impl Binding for NullBinding {
    fn layout(&self) -> &BindingLayout {
        &self.layout
    }

    /// Everything sent is gone at once: all slots are the user's again.
    fn txsync(&self, ring: u32) -> Result<(), SyncError> {
        let spec = self
            .layout
            .tx_rings
            .get(ring as usize)
            .ok_or(SyncError::NoSuchRing { ring })?;
        let view = RingView::new(&self.layout.region, spec.offset, spec.num_slots)
            .map_err(|e| SyncError::Gone(e.to_string()))?;
        let head = view.head();
        if head < spec.num_slots {
            let tail = if head == 0 {
                spec.num_slots - 1
            } else {
                head - 1
            };
            view.set_tail(tail);
        }
        Ok(())
    }

    /// Nothing ever arrives.
    fn rxsync(&self, ring: u32) -> Result<(), SyncError> {
        let spec = self
            .layout
            .rx_rings
            .get(ring as usize)
            .ok_or(SyncError::NoSuchRing { ring })?;
        let head = self
            .layout
            .region
            .read::<u32>(spec.offset + ring_off::HEAD)
            .map_err(|e| SyncError::Gone(e.to_string()))?;
        if head < spec.num_slots {
            let _ = self.layout.region.write(spec.offset + ring_off::TAIL, head);
        }
        Ok(())
    }

    fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    fn arm(&self) {}

    fn disarm(&self) {}
}

impl Drop for NullBinding {
    fn drop(&mut self) {
        let region = &self.layout.region;
        for spec in self.layout.tx_rings.iter().chain(&self.layout.rx_rings) {
            if let Ok(view) = RingView::new(region, spec.offset, spec.num_slots) {
                let bufs: Vec<u32> = (0..spec.num_slots).map(|i| view.slot(i).buf_idx).collect();
                self.memory.release_buffers(bufs);
            }
            self.memory.free_ring(spec.offset);
        }
        self.memory.free_if(self.layout.if_offset);
    }
}
