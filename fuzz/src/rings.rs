//! Rings an application can write, on the software engine: garbage
//! `head`, `cur`, `tail`, slot buffer indexes, lengths, flags and
//! `NS_INDIRECT` pointers, then txsync, rxsync and poll on two VALE ports
//! and the two ends of a pipe. Properties: no panic (every value read from
//! the region is checked, so nothing is read or written outside it), and
//! once the application writes sane rings again (the slots it was given,
//! head = cur = tail) every port exchanges frames again and every buffer
//! of the switch is owned exactly once.

use std::time::Duration;

use netmap_ring::abi::{NetmapSlot, NS_BUF_CHANGED, NS_INDIRECT, NS_MOREFRAG, NS_NO_LEARN};
use netmap_ring::port::{Interest, Port};
use netmap_ring::view::RingView;

use crate::input::Input;
use crate::runner::Target;

/// Slots per ring: small, so that garbage indexes often land inside.
const SLOTS: u32 = 64;

/// The four ports and the slots they were given.
pub struct Rings {
    ports: Vec<Port>,
    /// Per port: buffer indexes of every TX then RX slot at open.
    given: Vec<Vec<u32>>,
    dir: std::path::PathBuf,
    switch: String,
}

impl Rings {
    /// Opens the ports in a runtime directory of this process's own.
    pub fn new() -> Self {
        let dir = std::path::PathBuf::from(format!("/dev/shm/nmrs-fuzz-{}", std::process::id()));
        std::env::set_var("NETMAP_RS_DIR", &dir);
        std::env::set_var("NETMAP_RS_BUFS", "4096");
        let switch = format!("valefz{}", std::process::id());
        let conf = format!("@conf:rings=1,slots={SLOTS}");
        let names = [
            format!("{switch}:a{conf}"),
            format!("{switch}:b{conf}"),
            format!("{switch}:p{{1{conf}"),
            format!("{switch}:p}}1{conf}"),
        ];
        let ports: Vec<Port> = names
            .iter()
            .map(|n| vale_soft::open(n).unwrap_or_else(|e| panic!("open {n}: {e}")))
            .collect();
        let given = ports.iter().map(slots_of).collect();
        Self {
            ports,
            given,
            dir,
            switch,
        }
    }
}

impl Default for Rings {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Rings {
    fn drop(&mut self) {
        self.ports.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rings_of(port: &Port) -> Vec<RingView<'_>> {
    (0..port.tx_rings())
        .map(|r| port.tx_ring(r))
        .chain((0..port.rx_rings()).map(|r| port.rx_ring(r)))
        .collect()
}

fn slots_of(port: &Port) -> Vec<u32> {
    rings_of(port)
        .iter()
        .flat_map(|v| (0..v.num_slots()).map(move |s| v.slot(s).buf_idx))
        .collect()
}

/// A frame from `tx` reaches `rx`.
fn exchange(tx: &mut Port, rx: &mut Port, seq: u8) -> Result<(), String> {
    let mut frame = vec![0u8; 60];
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, seq]);
    frame[14] = seq;
    // No room: the peer may have released slots since our last sync.
    if !tx.inject(&frame) && (tx.txsync().is_err() || !tx.inject(&frame)) {
        return Err(format!("{}: no room to send", tx.name()));
    }
    tx.txsync()
        .map_err(|e| format!("{}: txsync: {e}", tx.name()))?;
    rx.rxsync()
        .map_err(|e| format!("{}: rxsync: {e}", rx.name()))?;
    let mut got = false;
    while let Some(p) = rx.next_packet() {
        got |= p.data.get(14) == Some(&seq);
    }
    rx.rxsync()
        .map_err(|e| format!("{}: rxsync: {e}", rx.name()))?;
    if got {
        Ok(())
    } else {
        Err(format!("{} did not receive from {}", rx.name(), tx.name()))
    }
}

impl Rings {
    /// Writes sane rings again, as an application recovering would: the
    /// buffers it was given back in their slots, flags cleared, RX rings
    /// released (head = cur = tail) after a sync; then checks that frames
    /// flow.
    fn recover(&mut self) -> Result<(), String> {
        for (port, given) in self.ports.iter().zip(&self.given) {
            let mut given = given.iter();
            for view in rings_of(port) {
                for s in 0..view.num_slots() {
                    view.set_slot(
                        s,
                        NetmapSlot {
                            buf_idx: *given.next().unwrap(),
                            len: 0,
                            flags: 0,
                            ptr: 0,
                        },
                    );
                }
                view.set_flags(0);
            }
        }
        for _ in 0..2 {
            for port in &self.ports {
                // A bad ring is reinitialised by the sync: head = cur =
                // hwcur, tail = hwtail.
                let _ = port.txsync();
                let _ = port.rxsync();
                // TX: what head submits is sent (or dropped and counted),
                // cur goes back to head; RX: every slot is released.
                for r in 0..port.tx_rings() {
                    let view = port.tx_ring(r);
                    view.set_cur(view.head());
                }
                for r in 0..port.rx_rings() {
                    let view = port.rx_ring(r);
                    let tail = view.tail();
                    view.set_head(tail);
                    view.set_cur(tail);
                }
                port.txsync().map_err(|e| format!("{}: {e}", port.name()))?;
                port.rxsync().map_err(|e| format!("{}: {e}", port.name()))?;
            }
        }
        let [a, b, m, s] = &mut self.ports[..] else {
            unreachable!("four ports")
        };
        let state = |ports: &[&Port]| -> String {
            ports
                .iter()
                .flat_map(|p| {
                    rings_of(p)
                        .into_iter()
                        .map(move |v| (p.name().to_string(), v))
                })
                .map(|(n, v)| format!("{n} h{} c{} t{}", v.head(), v.cur(), v.tail()))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let flows = exchange(a, b, 1)
            .and_then(|()| exchange(b, a, 2))
            .and_then(|()| exchange(m, s, 3))
            .and_then(|()| exchange(s, m, 4));
        if let Err(e) = flows {
            return Err(format!("{e} (rings now: {})", state(&[a, b, m, s])));
        }
        let domain = vale_soft::domain::Domain::open(
            &self.switch,
            vale_offload::placement::DomainKind::Switch,
        )
        .map_err(|e| e.to_string())?;
        vale_soft::ports::check_conservation(&domain).map_err(|e| e.to_string())
    }
}

fn garbage_slot(input: &mut Input<'_>, base: usize) -> NetmapSlot {
    let buf_idx = match input.u8() % 4 {
        0 => input.below(4200),
        1 => input.below(2),
        2 => 4096u32
            .wrapping_add(u32::from(input.u8()))
            .wrapping_sub(128),
        _ => input.u32(),
    };
    let len = match input.u8() % 4 {
        0 => u16::from(input.u8()),
        1 => 2112u16
            .wrapping_add(u16::from(input.u8() % 8))
            .wrapping_sub(4),
        _ => input.u16(),
    };
    let flags = match input.u8() % 3 {
        0 => [0, NS_MOREFRAG, NS_INDIRECT, NS_BUF_CHANGED, NS_NO_LEARN][input.below(5) as usize],
        1 => input.u16() & (NS_MOREFRAG | NS_INDIRECT | NS_BUF_CHANGED | 0xff00),
        _ => input.u16(),
    };
    let ptr = match input.u8() % 3 {
        // Near the region's mapping, where an in-bounds check is tested.
        0 => (base as u64).wrapping_add(u64::from(input.u32())),
        1 => (base as u64).wrapping_sub(u64::from(input.u16())),
        _ => input.u64(),
    };
    NetmapSlot {
        buf_idx,
        len,
        flags,
        ptr,
    }
}

impl Target for Rings {
    fn name(&self) -> &'static str {
        "rings"
    }

    fn max_len(&self) -> usize {
        512
    }

    fn run(&mut self, data: &[u8]) -> Result<(), String> {
        let mut input = Input::new(data);
        let mut ops = 0;
        while input.more() && ops < 64 {
            ops += 1;
            let port = &mut self.ports[input.below(4) as usize];
            let views = rings_of(port);
            let view = &views[input.below(views.len() as u32) as usize];
            let base = port.region().base_addr();
            match input.u8() % 10 {
                0 => view.set_head(input.index_like(SLOTS)),
                1 => view.set_cur(input.index_like(SLOTS)),
                2 => view.set_tail(input.index_like(SLOTS)),
                3 | 4 => view.set_slot(
                    input.index_like(SLOTS) % SLOTS,
                    garbage_slot(&mut input, base),
                ),
                5 => {
                    // Sane head/cur: a batch of (possibly garbage) slots.
                    let n = input.below(SLOTS);
                    let head = (view.head().wrapping_add(n)) % SLOTS;
                    view.set_head(head);
                    view.set_cur(head);
                }
                6 => drop(port.txsync()),
                7 => drop(port.rxsync()),
                8 => {
                    let interest =
                        [Interest::TX, Interest::RX, Interest::BOTH][input.below(3) as usize];
                    drop(port.poll(interest, Some(Duration::ZERO)));
                }
                _ => view.set_flags(input.u32()),
            }
        }
        self.recover()
    }
}
