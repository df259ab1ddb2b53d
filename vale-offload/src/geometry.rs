//! Port geometry: how many rings of how many slots a port has, netmap's
//! defaults and limits, and the geometry a port name asks for (`@conf:`).
//! Both engines size ports from here.

use netmap_ring::name::PortName;
use netmap_ring::region::MAX_RING_SLOTS;

/// Rings per direction per port (netmap's VALE limit).
pub const MAX_RINGS: u32 = 16;
/// netmap's defaults for a VALE port: one ring pair of 1024 slots.
pub const DEFAULT_RINGS: u32 = 1;
pub const DEFAULT_SLOTS: u32 = 1024;

/// Ring geometry of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortGeometry {
    pub tx_rings: u32,
    pub rx_rings: u32,
    pub tx_slots: u32,
    pub rx_slots: u32,
}

impl Default for PortGeometry {
    fn default() -> Self {
        Self {
            tx_rings: DEFAULT_RINGS,
            rx_rings: DEFAULT_RINGS,
            tx_slots: DEFAULT_SLOTS,
            rx_slots: DEFAULT_SLOTS,
        }
    }
}

impl PortGeometry {
    /// The geometry `name` asks for (`@conf:`), netmap's defaults else.
    pub fn requested(name: &PortName) -> Self {
        let d = Self::default();
        let conf = &name.options.conf;
        Self {
            tx_rings: conf.tx_rings().map_or(d.tx_rings, u32::from),
            rx_rings: conf.rx_rings().map_or(d.rx_rings, u32::from),
            tx_slots: conf.tx_slots().unwrap_or(d.tx_slots),
            rx_slots: conf.rx_slots().unwrap_or(d.rx_slots),
        }
    }

    /// Checks netmap's limits (1..=16 rings, 1..=4096 slots, at least 2 so
    /// that a ring can hold a packet with one slot kept empty).
    pub fn validate(&self) -> Result<(), String> {
        for (what, rings) in [("tx-rings", self.tx_rings), ("rx-rings", self.rx_rings)] {
            if !(1..=MAX_RINGS).contains(&rings) {
                return Err(format!("{what}={rings} is out of range 1..={MAX_RINGS}"));
            }
        }
        for (what, slots) in [("tx-slots", self.tx_slots), ("rx-slots", self.rx_slots)] {
            if !(2..=MAX_RING_SLOTS).contains(&slots) {
                return Err(format!(
                    "{what}={slots} is out of range 2..={MAX_RING_SLOTS}"
                ));
            }
        }
        Ok(())
    }

    /// The other end of a pipe: TX and RX swapped.
    pub fn mirrored(&self) -> Self {
        Self {
            tx_rings: self.rx_rings,
            rx_rings: self.tx_rings,
            tx_slots: self.rx_slots,
            rx_slots: self.tx_slots,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_overrides_the_defaults() {
        let name: PortName = "vale0:a@conf:rings=4,slots=256".parse().unwrap();
        let g = PortGeometry::requested(&name);
        assert_eq!(
            (g.tx_rings, g.rx_rings, g.tx_slots, g.rx_slots),
            (4, 4, 256, 256)
        );
        let plain: PortName = "vale0:a".parse().unwrap();
        assert_eq!(PortGeometry::requested(&plain), PortGeometry::default());
    }

    #[test]
    fn limits_are_checked() {
        let mut g = PortGeometry::default();
        assert!(g.validate().is_ok());
        g.tx_rings = MAX_RINGS + 1;
        assert!(g.validate().unwrap_err().contains("tx-rings"));
        g.tx_rings = 1;
        g.rx_slots = 1;
        assert!(g.validate().unwrap_err().contains("rx-slots"));
        assert_eq!(g.mirrored().tx_slots, 1);
    }
}
