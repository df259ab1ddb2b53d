//! The typed registration request a port name stands for.

use crate::abi::{
    NR_EXCLUSIVE, NR_MONITOR_RX, NR_MONITOR_TX, NR_REG_ALL_NIC, NR_REG_NIC_SW, NR_REG_ONE_NIC,
    NR_REG_ONE_SW, NR_REG_SW, NR_RX_RINGS_ONLY, NR_TX_RINGS_ONLY, NR_ZCOPY_MON,
};

/// A parsed port name: everything `NETMAP_REQ_REGISTER` needs from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortName {
    /// NIC or VALE port.
    pub subsystem: Subsystem,
    /// Which rings to bind.
    pub mode: RingMode,
    /// The pipe end hanging off the port (`{id`, `}id`), if any.
    pub pipe: Option<PipeEnd>,
    /// `/xztrRT`.
    pub flags: RegFlags,
    /// `@N`: the memory allocator to use.
    pub mem_id: Option<u16>,
    /// `@conf:`, `@share=`, `@extmem:`, `@offset:`.
    pub options: PortOptions,
}

impl PortName {
    /// A NIC port with every default (all NIC rings, no flags).
    pub fn netmap(ifname: impl Into<String>) -> Self {
        Self::with_subsystem(Subsystem::Netmap {
            ifname: ifname.into(),
        })
    }

    /// A port of VALE switch `vale{switch}` with every default.
    pub fn vale(switch: impl Into<String>, port: impl Into<String>) -> Self {
        Self::with_subsystem(Subsystem::Vale {
            switch: switch.into(),
            port: port.into(),
        })
    }

    fn with_subsystem(subsystem: Subsystem) -> Self {
        Self {
            subsystem,
            mode: RingMode::default(),
            pipe: None,
            flags: RegFlags::default(),
            mem_id: None,
            options: PortOptions::default(),
        }
    }

    /// The string netmap puts in `nmreq_header.nr_name`: the parent port and
    /// the pipe suffix, e.g. `eth0{p` or `vale0:1`.
    pub fn nr_name(&self) -> String {
        let mut name = self.subsystem.parent_name();
        if let Some(pipe) = &self.pipe {
            name.push(pipe.role.symbol());
            name.push_str(&pipe.id);
        }
        name
    }
}

/// Where the port lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subsystem {
    /// `netmap:IFNAME`, a NIC (or its host stack rings).
    Netmap {
        /// The interface name.
        ifname: String,
    },
    /// `valeS:P`, port P of VALE switch `valeS`.
    Vale {
        /// S, possibly empty (`vale:0` is switch `vale`).
        switch: String,
        /// P.
        port: String,
    },
}

impl Subsystem {
    /// The full switch name (`vale0` for `vale0:1`), `None` for a NIC.
    pub fn switch_name(&self) -> Option<String> {
        match self {
            Subsystem::Netmap { .. } => None,
            Subsystem::Vale { switch, .. } => Some(format!("vale{switch}")),
        }
    }

    /// The port as netmap names it without any pipe suffix: `eth0` for a
    /// NIC, `vale0:1` for a VALE port.
    pub fn parent_name(&self) -> String {
        match self {
            Subsystem::Netmap { ifname } => ifname.clone(),
            Subsystem::Vale { switch, port } => format!("vale{switch}:{port}"),
        }
    }
}

/// Which rings a registration binds (`nr_mode` and `nr_ringid`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RingMode {
    /// No suffix: every NIC ring.
    #[default]
    AllNic,
    /// `^`: the host (software) rings.
    Sw,
    /// `^N`: host ring pair N.
    OneSw(u16),
    /// `*`: NIC and host rings.
    NicSw,
    /// `-N`: NIC ring pair N.
    OneNic(u16),
}

impl RingMode {
    /// The `NR_REG_*` value for `nr_mode`.
    pub fn nr_reg(&self) -> u32 {
        match self {
            RingMode::AllNic => NR_REG_ALL_NIC,
            RingMode::Sw => NR_REG_SW,
            RingMode::OneSw(_) => NR_REG_ONE_SW,
            RingMode::NicSw => NR_REG_NIC_SW,
            RingMode::OneNic(_) => NR_REG_ONE_NIC,
        }
    }

    /// The value for `nr_ringid`: the ring of `OneSw`/`OneNic`, else 0.
    pub fn ring_id(&self) -> u16 {
        match self {
            RingMode::OneSw(ring) | RingMode::OneNic(ring) => *ring,
            RingMode::AllNic | RingMode::Sw | RingMode::NicSw => 0,
        }
    }
}

/// One end of a netmap pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeEnd {
    /// Master (`{`) or slave (`}`).
    pub role: PipeRole,
    /// The pipe's identifier (`[A-Za-z0-9_]+`).
    pub id: String,
}

/// The two ends of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeRole {
    /// `{id`.
    Master,
    /// `}id`.
    Slave,
}

impl PipeRole {
    /// The character that introduces this end in a name.
    pub fn symbol(self) -> char {
        match self {
            PipeRole::Master => '{',
            PipeRole::Slave => '}',
        }
    }
}

/// The `/` flags of a name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegFlags {
    /// `x`: exclusive access to the selected rings.
    pub exclusive: bool,
    /// `z`: zero-copy monitor.
    pub zero_copy_monitor: bool,
    /// `t`: monitor the tx rings.
    pub monitor_tx: bool,
    /// `r`: monitor the rx rings.
    pub monitor_rx: bool,
    /// `R`: bind the rx rings only.
    pub rx_rings_only: bool,
    /// `T`: bind the tx rings only.
    pub tx_rings_only: bool,
}

impl RegFlags {
    /// Each flag with its letter and `NR_*` bit, in canonical order.
    pub(crate) fn table(&self) -> [(bool, char, u64); 6] {
        [
            (self.exclusive, 'x', NR_EXCLUSIVE),
            (self.zero_copy_monitor, 'z', NR_ZCOPY_MON),
            (self.monitor_tx, 't', NR_MONITOR_TX),
            (self.monitor_rx, 'r', NR_MONITOR_RX),
            (self.rx_rings_only, 'R', NR_RX_RINGS_ONLY),
            (self.tx_rings_only, 'T', NR_TX_RINGS_ONLY),
        ]
    }

    /// Sets the flag of `letter`; false if it is not a flag letter.
    pub(crate) fn set_letter(&mut self, letter: u8) -> bool {
        let flag = match letter {
            b'x' => &mut self.exclusive,
            b'z' => &mut self.zero_copy_monitor,
            b't' => &mut self.monitor_tx,
            b'r' => &mut self.monitor_rx,
            b'R' => &mut self.rx_rings_only,
            b'T' => &mut self.tx_rings_only,
            _ => return false,
        };
        *flag = true;
        true
    }

    /// True when any flag is set.
    pub fn any(&self) -> bool {
        self.table().iter().any(|(set, _, _)| *set)
    }

    /// The `nr_flags` bits of `nmreq_register`.
    pub fn nr_flags(&self) -> u64 {
        self.table()
            .iter()
            .filter(|(set, _, _)| *set)
            .fold(0, |bits, (_, _, bit)| bits | bit)
    }
}

/// The `@` options of a name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortOptions {
    /// `@conf:`: ring and slot counts (all `None` when absent).
    pub conf: ConfOption,
    /// `@share=PORT`: use the memory allocator of another port, given as
    /// a header name (`netmap:eth1`, `vale0:1`, `netmap:eth0{p`).
    pub share: Option<String>,
    /// `@extmem:`: memory supplied by the application from a file.
    pub extmem: Option<ExtmemOption>,
    /// `@offset:`: per-slot buffer offsets.
    pub offset: Option<OffsetOption>,
}

/// `@conf:` keys, each as given in the name. The methods resolve them the
/// way libnetmap does: the more specific key wins, whatever the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfOption {
    /// `rings`: tx and rx rings.
    pub rings: Option<u16>,
    /// `host-rings`: host tx and rx rings.
    pub host_rings: Option<u16>,
    /// `slots`: slots of tx and rx rings.
    pub slots: Option<u32>,
    /// `tx-rings`.
    pub tx_rings: Option<u16>,
    /// `rx-rings`.
    pub rx_rings: Option<u16>,
    /// `host-tx-rings`.
    pub host_tx_rings: Option<u16>,
    /// `host-rx-rings`.
    pub host_rx_rings: Option<u16>,
    /// `tx-slots`.
    pub tx_slots: Option<u32>,
    /// `rx-slots`.
    pub rx_slots: Option<u32>,
}

impl ConfOption {
    /// True when no key is set (the option is then left out of a name).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Merges `later` into `self`, keys of `later` winning (libnetmap
    /// applies repeated `@conf:` options in order).
    pub(crate) fn merge(&mut self, later: &ConfOption) {
        fn take<T: Copy>(into: &mut Option<T>, later: Option<T>) {
            if later.is_some() {
                *into = later;
            }
        }
        take(&mut self.rings, later.rings);
        take(&mut self.host_rings, later.host_rings);
        take(&mut self.slots, later.slots);
        take(&mut self.tx_rings, later.tx_rings);
        take(&mut self.rx_rings, later.rx_rings);
        take(&mut self.host_tx_rings, later.host_tx_rings);
        take(&mut self.host_rx_rings, later.host_rx_rings);
        take(&mut self.tx_slots, later.tx_slots);
        take(&mut self.rx_slots, later.rx_slots);
    }

    /// NIC tx rings requested: `tx-rings`, else `rings`.
    pub fn tx_rings(&self) -> Option<u16> {
        self.tx_rings.or(self.rings)
    }

    /// NIC rx rings requested: `rx-rings`, else `rings`.
    pub fn rx_rings(&self) -> Option<u16> {
        self.rx_rings.or(self.rings)
    }

    /// Host tx rings requested: `host-tx-rings`, else `host-rings`.
    pub fn host_tx_rings(&self) -> Option<u16> {
        self.host_tx_rings.or(self.host_rings)
    }

    /// Host rx rings requested: `host-rx-rings`, else `host-rings`.
    pub fn host_rx_rings(&self) -> Option<u16> {
        self.host_rx_rings.or(self.host_rings)
    }

    /// Slots per tx ring requested: `tx-slots`, else `slots`.
    pub fn tx_slots(&self) -> Option<u32> {
        self.tx_slots.or(self.slots)
    }

    /// Slots per rx ring requested: `rx-slots`, else `slots`.
    pub fn rx_slots(&self) -> Option<u32> {
        self.rx_slots.or(self.slots)
    }
}

/// `@extmem:`: the file to map and the pool geometry to ask for (`None`
/// lets netmap choose).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtmemOption {
    /// `file` (mandatory, also the positional value of `@extmem=FILE`).
    pub file: String,
    /// `if-num`: netmap_if objects.
    pub if_num: Option<u32>,
    /// `if-size`: bytes per netmap_if.
    pub if_size: Option<u32>,
    /// `ring-num`: rings.
    pub ring_num: Option<u32>,
    /// `ring-size`: bytes per ring.
    pub ring_size: Option<u32>,
    /// `buf-num`: buffers.
    pub buf_num: Option<u32>,
    /// `buf-size`: bytes per buffer.
    pub buf_size: Option<u32>,
}

impl ExtmemOption {
    /// Only a file, every pool left to netmap.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            if_num: None,
            if_size: None,
            ring_num: None,
            ring_size: None,
            buf_num: None,
            buf_size: None,
        }
    }

    /// The numeric keys with their canonical names, in canonical order.
    pub(crate) fn numeric_keys(&self) -> [(&'static str, Option<u32>); 6] {
        [
            ("if-num", self.if_num),
            ("if-size", self.if_size),
            ("ring-num", self.ring_num),
            ("ring-size", self.ring_size),
            ("buf-num", self.buf_num),
            ("buf-size", self.buf_size),
        ]
    }
}

/// `@offset:`: the initial offset of every slot (libnetmap also uses it as
/// the maximum) and the width of the offset field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetOption {
    /// `initial` (mandatory, also the positional value of `@offset=N`).
    pub initial: u64,
    /// `bits`: bits of `slot.ptr` holding the offset (libnetmap: 0 if unset).
    pub bits: Option<u32>,
}
