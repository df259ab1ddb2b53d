//! Pipe ends on a device: the pair region both ends share (created by
//! the first end, mapped for DMA once per process), the entries the two
//! ends take and reserve for each other, and the buffers an end gets
//! (every pool buffer the open peer does not hold).

use std::sync::Arc;

use netmap_ring::name::PortName;
use netmap_ring::port::{Binding, PortError};
use netmap_ring::view::RingView;
use vale_offload::placement::PortKind;
use vale_offload::regmap as map;

use super::binding::PipeLink;
use super::layout::MAX_PORT_RINGS;
use super::pair::{end_geometry, PairRegion, NO_ENTRY};
use super::{Area, DeviceBackend, EntryState, LocalPair, State, Supply, LOST_RACE};

impl State {
    /// Whether entry `p` can be taken for an end of `pair`: unused here
    /// (or reserved for this pair) and, on a shared device, not enabled by
    /// another host.
    fn entry_free_for(&mut self, p: u32, pair: &Arc<PairRegion>) -> bool {
        let ports = self.info.ports;
        p < ports.count
            && self.entries[p as usize]
                .as_ref()
                .is_none_or(|e| !e.open && e.pair.as_ref().is_some_and(|q| Arc::ptr_eq(q, pair)))
            && (!self.dev.shared()
                || self
                    .dev
                    .bar0_read(ports.register(p, map::PORT_CONTROL))
                    .is_ok_and(|control| control & map::PORT_CONTROL_ENABLE == 0))
    }

    /// The pair region at `path`, mapped for DMA (once per process), with
    /// one more user.
    fn take_pair(
        &mut self,
        path: &std::path::Path,
        master: vale_offload::geometry::PortGeometry,
    ) -> Result<(Arc<PairRegion>, u64), String> {
        if let Some(local) = self.pairs.get_mut(path) {
            local.users += 1;
            return Ok((local.pair.clone(), local.iova));
        }
        let pair = Arc::new(PairRegion::open(path, master).map_err(|e| e.to_string())?);
        pair.clear_stale_self();
        let iova = self
            .dev
            .dma_map(pair.region.clone())
            .map_err(|e| e.to_string())?;
        self.pairs.insert(
            path.to_owned(),
            LocalPair {
                pair: pair.clone(),
                iova,
                users: 1,
            },
        );
        Ok((pair, iova))
    }

    /// One user of the pair at `path` is gone: with none left here, the
    /// reservations go, the mapping goes, and with no end open anywhere
    /// the pair region is destroyed.
    pub(super) fn release_pair(&mut self, path: &std::path::Path) {
        let Some(local) = self.pairs.get_mut(path) else {
            return;
        };
        local.users -= 1;
        if local.users > 0 {
            return;
        }
        let local = self.pairs.remove(path).expect("present");
        for e in self.entries.iter_mut() {
            if e.as_ref().is_some_and(|e| {
                !e.open && e.pair.as_ref().is_some_and(|q| Arc::ptr_eq(q, &local.pair))
            }) {
                *e = None;
            }
        }
        {
            let _guard = local.pair.lock();
            if local.pair.live_owner(0).is_none() && local.pair.live_owner(1).is_none() {
                local.pair.destroy_locked();
            }
        }
        let _ = self.dev.dma_unmap(local.iova);
    }

    /// The buffers end `other` of `pair` holds: every slot of its rings.
    /// The host copy of its TX rings is current for slots handed to the
    /// device too: the crossover writes the swapped slots back there
    /// before it publishes them (`PORT_TX_HOST_RING_OFF`).
    fn held_by(pair: &PairRegion, other: usize) -> Result<std::collections::HashSet<u32>, String> {
        let g = end_geometry(pair.master_geometry(), other);
        let tx = (0..g.tx_rings).map(|r| {
            (
                pair.layout.tx_ring_off(other as u32, r, g.tx_slots),
                g.tx_slots,
            )
        });
        let rx = (0..g.rx_rings).map(|r| {
            (
                pair.layout.rx_ring_off(other as u32, r, g.rx_slots),
                g.rx_slots,
            )
        });
        let mut held = std::collections::HashSet::new();
        for (off, n) in tx.chain(rx) {
            let view = RingView::new(&pair.region, off, n).map_err(|e| e.to_string())?;
            held.extend((0..n).map(|i| view.slot(i).buf_idx));
        }
        Ok(held)
    }
}

impl DeviceBackend {
    /// Binds a pipe end: its pair region (created by the first end), an
    /// entry (the one the pair recorded for this end if still free), and
    /// every pool buffer the other end, if open, does not hold.
    pub(super) fn register_pipe(
        &self,
        state: &mut State,
        name: &PortName,
        place: &vale_offload::placement::Placement,
        geometry: vale_offload::geometry::PortGeometry,
    ) -> Result<Box<dyn Binding>, PortError> {
        let io = |why: String| PortError::Io {
            name: name.to_string(),
            source: std::io::Error::other(why),
        };
        let me = usize::from(place.kind == PortKind::PipeSlave);
        let other = 1 - me;
        let master_name = if me == 0 {
            place.entry.clone()
        } else {
            place.peer.clone().expect("a pipe end has a peer")
        };
        let path = PairRegion::path_of(&state.dev.scope(), &place.domain, &master_name);
        let (pair, iova) = state
            .take_pair(&path, end_geometry(geometry, me))
            .map_err(&io)?;
        let result = self.bind_pipe_end(state, name, place, &pair, iova, me, other);
        if result.is_err() {
            state.release_pair(&path);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn bind_pipe_end(
        &self,
        state: &mut State,
        name: &PortName,
        place: &vale_offload::placement::Placement,
        pair: &Arc<PairRegion>,
        iova: u64,
        me: usize,
        other: usize,
    ) -> Result<Box<dyn Binding>, PortError> {
        let io = |why: String| PortError::Io {
            name: name.to_string(),
            source: std::io::Error::other(why),
        };
        let _guard = pair.lock();
        if let Some(owner) = pair.live_owner(me) {
            return Err(PortError::Busy {
                name: name.to_string(),
                owner,
            });
        }
        // A dead owner's entry was released by the device (its connection
        // closed); its buffers are taken back below.
        let other_open = pair.live_owner(other).is_some();
        let g = end_geometry(pair.master_geometry(), me);
        if g.tx_rings > MAX_PORT_RINGS
            || g.rx_rings > MAX_PORT_RINGS
            || !state.layout.fits_bar2(g.tx_rings, g.tx_slots)
        {
            return Err(PortError::Config {
                name: name.to_string(),
                why: "the pipe's geometry does not fit a device port".into(),
            });
        }
        let max = state.info.ports.count;
        let full = || PortError::SwitchFull {
            name: name.to_string(),
            switch: place.domain.clone(),
            max,
        };
        let mut lost: Vec<u32> = Vec::new();
        loop {
            let other_entry = pair.entry(other);
            let preferred = pair.entry(me);
            let mut except = lost.clone();
            if other_entry != NO_ENTRY {
                except.push(other_entry);
            }
            let p = if preferred != NO_ENTRY
                && !except.contains(&preferred)
                && state.entry_free_for(preferred, pair)
            {
                preferred
            } else {
                state.free_entry(&except).ok_or_else(full)?
            };
            // The other end's entry: its own if open, else one reserved for
            // it (the RTL crosses only between entries naming each other,
            // so a reservation another host takes meanwhile holds frames
            // until the ends re-pair at a sync).
            let keep_reserved = !other_open
                && other_entry != NO_ENTRY
                && other_entry != p
                && !lost.contains(&other_entry)
                && state.entry_free_for(other_entry, pair);
            let peer = if other_open || keep_reserved {
                other_entry
            } else {
                let mut except = lost.clone();
                except.push(p);
                state.free_entry(&except).unwrap_or(NO_ENTRY)
            };
            let entry_state = |entry_name: &str, kind, open| EntryState {
                domain: place.domain.clone(),
                name: entry_name.to_owned(),
                kind,
                geometry: end_geometry(pair.master_geometry(), me),
                open,
                pair: Some(pair.clone()),
            };
            state.entries[p as usize] = Some(entry_state(&place.entry, place.kind, false));
            if !other_open && peer != NO_ENTRY && state.entries[peer as usize].is_none() {
                let peer_name = place.peer.as_deref().unwrap_or_default();
                let peer_kind = match place.kind {
                    PortKind::PipeMaster => PortKind::PipeSlave,
                    _ => PortKind::PipeMaster,
                };
                state.entries[peer as usize] = Some(entry_state(peer_name, peer_kind, false));
            }
            let held = if other_open {
                State::held_by(pair, other).map_err(&io)?
            } else {
                Default::default()
            };
            let wanted = (g.tx_rings * g.tx_slots + g.rx_rings * g.rx_slots) as usize;
            let mine: Vec<u32> = (2..pair.layout.num_bufs)
                .filter(|b| !held.contains(b))
                .take(wanted)
                .collect();
            if mine.len() < wanted {
                state.forget_if_unused(p);
                return Err(PortError::NoMemory {
                    name: name.to_string(),
                    why: format!(
                        "the pipe pair's pool has {} buffers left for {wanted} slots",
                        mine.len()
                    ),
                });
            }
            let area = Area {
                region: pair.region.clone(),
                iova,
                layout: pair.layout,
                index: me as u32,
            };
            let link = PipeLink::new(pair.clone(), other, peer);
            let result = self.bind(state, p, name, area, Supply::Given(mine), peer, Some(link));
            match result {
                Ok(binding) => {
                    pair.set_entry(me, p);
                    if !other_open {
                        pair.set_entry(other, peer);
                    }
                    pair.set_open(me, true);
                    return Ok(binding);
                }
                Err(PortError::Busy {
                    owner: LOST_RACE, ..
                }) => {
                    state.forget_if_unused(p);
                    lost.push(p);
                }
                Err(e) => {
                    state.forget_if_unused(p);
                    return Err(e);
                }
            }
        }
    }
}
