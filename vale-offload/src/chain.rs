//! `NS_MOREFRAG` chains: the one rule every TX path applies to the slots
//! an application released. A frame is the run of slots up to the first
//! one without `NS_MOREFRAG`; a chain still open at `head` waits for the
//! rest, unless it is already longer than netmap forwards (then it can
//! never go and is dropped); a chain over [`MAX_FRAGS`] slots, a bad slot
//! and a frame shorter than an Ethernet header are dropped, checked in
//! that order and each counted. The RTL applies the same rule
//! (`hw/README.md`, device contract).

use crate::counters::PortCounter;

/// Longest MOREFRAG chain forwarded (netmap's `NETMAP_MAX_FRAGS`).
pub const MAX_FRAGS: u32 = 64;
/// Bytes of an Ethernet header: shorter frames are dropped.
pub const ETH_HEADER_LEN: usize = 14;

const _: () = assert!(MAX_FRAGS == netmap_ring::abi::NETMAP_MAX_FRAGS);

/// How the walk over one frame's slots ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The slot after the frame's last one (or `head` when open).
    pub end: u32,
    /// Slots walked.
    pub slots: u32,
    /// The last slot walked had no `NS_MOREFRAG`.
    pub complete: bool,
}

impl Chain {
    /// Walks the frame starting at slot `start` of a ring of `num_slots`,
    /// stopping at the first slot without `NS_MOREFRAG` or at `head`.
    /// `visit(i)` sees each slot index once, in order (the caller reads,
    /// validates and sums the slot there) and says whether the slot has
    /// `NS_MOREFRAG`. `start != head`.
    #[inline]
    pub fn walk(
        start: u32,
        head: u32,
        num_slots: u32,
        mut visit: impl FnMut(u32) -> bool,
    ) -> Chain {
        let mut at = start;
        let mut slots = 0;
        loop {
            let more = visit(at);
            slots += 1;
            at = if at + 1 == num_slots { 0 } else { at + 1 };
            if !more {
                return Chain {
                    end: at,
                    slots,
                    complete: true,
                };
            }
            if at == head {
                return Chain {
                    end: at,
                    slots,
                    complete: false,
                };
            }
        }
    }

    /// An unfinished chain waits for the application's next slots; one
    /// already over [`MAX_FRAGS`] never can go and is dropped now.
    #[inline]
    pub fn waits(&self) -> bool {
        !self.complete && self.slots <= MAX_FRAGS
    }

    /// Whether a frame with this chain is forwarded, or why it is dropped:
    /// `valid` says every slot had a good buffer and length, `header_bytes`
    /// is how many bytes the frame offers for its Ethernet header.
    #[inline]
    pub fn verdict(&self, valid: bool, header_bytes: usize) -> Result<(), TxDrop> {
        if self.slots > MAX_FRAGS {
            Err(TxDrop::Chain)
        } else if !valid {
            Err(TxDrop::BadSlot)
        } else if header_bytes < ETH_HEADER_LEN {
            Err(TxDrop::Short)
        } else {
            Ok(())
        }
    }
}

/// Why a frame was dropped before any lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxDrop {
    /// A chain over [`MAX_FRAGS`] slots.
    Chain,
    /// A slot with a bad buffer index or length.
    BadSlot,
    /// Shorter than an Ethernet header.
    Short,
}

impl TxDrop {
    /// The port counter the drop is counted in.
    pub fn counter(self) -> PortCounter {
        match self {
            TxDrop::Chain => PortCounter::TxDropChain,
            TxDrop::BadSlot => PortCounter::TxDropBadSlot,
            TxDrop::Short => PortCounter::TxDropShort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks a ring whose slot `i` has MOREFRAG when `more[i]`.
    fn walk(more: &[bool], start: u32, head: u32) -> Chain {
        Chain::walk(start, head, more.len() as u32, |i| more[i as usize])
    }

    #[test]
    fn a_chain_ends_at_its_first_slot_without_morefrag() {
        let more = [true, true, false, false, true, true, false, true];
        assert_eq!(
            walk(&more, 0, 5),
            Chain {
                end: 3,
                slots: 3,
                complete: true
            }
        );
        assert_eq!(
            walk(&more, 3, 5),
            Chain {
                end: 4,
                slots: 1,
                complete: true
            }
        );
        // Open at head: waits.
        let open = walk(&more, 4, 6);
        assert_eq!(
            open,
            Chain {
                end: 6,
                slots: 2,
                complete: false
            }
        );
        assert!(open.waits());
        // Wraps around the ring's end.
        assert_eq!(
            walk(&more, 7, 6),
            Chain {
                end: 3,
                slots: 4,
                complete: true
            }
        );
    }

    #[test]
    fn drops_are_checked_in_order() {
        let long = Chain {
            end: 0,
            slots: MAX_FRAGS + 1,
            complete: true,
        };
        assert_eq!(long.verdict(false, 0), Err(TxDrop::Chain));
        let open_long = Chain {
            complete: false,
            ..long
        };
        assert!(!open_long.waits());
        let ok = Chain {
            end: 0,
            slots: MAX_FRAGS,
            complete: true,
        };
        assert_eq!(ok.verdict(false, 0), Err(TxDrop::BadSlot));
        assert_eq!(ok.verdict(true, ETH_HEADER_LEN - 1), Err(TxDrop::Short));
        assert_eq!(ok.verdict(true, ETH_HEADER_LEN), Ok(()));
        assert_eq!(TxDrop::Short.counter(), PortCounter::TxDropShort);
    }
}
