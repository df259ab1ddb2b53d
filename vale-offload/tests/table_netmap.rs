//! The learning table against netmap's VALE rules, at netmap's geometry.
#![forbid(unsafe_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vale_offload::hash::netmap_mac_hash;
use vale_offload::table::{Geometry, LearnOutcome, LearningTable, PORT_DROP, PORT_FLOOD};

const BROADCAST: [u8; 6] = [0xff; 6];

fn unicast(last: u8) -> [u8; 6] {
    [0x02, 0x00, 0x00, 0x00, 0x00, last]
}

/// Two distinct unicast MACs that share a row at 1024 rows.
fn colliding_pair() -> ([u8; 6], [u8; 6]) {
    let first = unicast(1);
    let row = netmap_mac_hash(&first) & 1023;
    for n in 0..u32::MAX {
        let bytes = n.to_le_bytes();
        let other = [0x02, 0x10, bytes[0], bytes[1], bytes[2], bytes[3]];
        if netmap_mac_hash(&other) & 1023 == row {
            return (first, other);
        }
    }
    unreachable!("a 10-bit row collides within 2^32 tries")
}

#[test]
fn learns_then_hits() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let (a, b) = (unicast(1), unicast(2));
    let first = table.forward(&a, &b, 3, true);
    assert_eq!(first.port, PORT_FLOOD);
    assert!(!first.hit);
    assert_eq!(first.learned, LearnOutcome::Inserted);
    let reply = table.forward(&b, &a, 5, true);
    assert_eq!(reply.port, 3);
    assert!(reply.hit);
    assert_eq!(table.forward(&a, &b, 3, true).port, 5);
    assert_eq!(
        table.forward(&a, &b, 3, true).learned,
        LearnOutcome::Refreshed
    );
}

#[test]
fn group_addresses_flood_and_are_never_learned() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let multicast = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
    let decision = table.forward(&multicast, &BROADCAST, 1, true);
    assert_eq!(decision.learned, LearnOutcome::Skipped);
    assert_eq!(decision.port, PORT_FLOOD);
    assert_eq!(table.entries().count(), 0);
    // A group destination floods even when that MAC's row holds an entry.
    table.learn(&unicast(9), 2);
    assert_eq!(
        table.forward(&unicast(9), &multicast, 2, true).port,
        PORT_FLOOD
    );
}

#[test]
fn destination_on_the_source_port_is_dropped() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let (a, b) = (unicast(1), unicast(2));
    table.learn(&b, 4);
    let decision = table.forward(&a, &b, 4, true);
    assert_eq!(decision.port, PORT_DROP);
    assert!(decision.hit);
    // A frame to itself: learned first, so the lookup hits the source port.
    assert_eq!(table.forward(&a, &a, 4, true).port, PORT_DROP);
}

#[test]
fn no_learn_flag_skips_learning() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let decision = table.forward(&unicast(1), &unicast(2), 0, false);
    assert_eq!(decision.learned, LearnOutcome::Skipped);
    assert_eq!(table.lookup(&unicast(1)), None);
}

#[test]
fn collision_overwrites_like_netmap() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let (first, second) = colliding_pair();
    assert_eq!(table.learn(&first, 1), LearnOutcome::Inserted);
    assert_eq!(table.learn(&second, 2), LearnOutcome::Evicted);
    assert_eq!(table.lookup(&first), None);
    assert_eq!(table.lookup(&second), Some(2));
    assert_eq!(table.entries().count(), 1);
}

#[test]
fn relearn_moves_the_entry() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    let a = unicast(7);
    table.learn(&a, 1);
    assert_eq!(table.learn(&a, 6), LearnOutcome::Moved);
    assert_eq!(table.lookup(&a), Some(6));
    assert_eq!(table.entries().count(), 1);
}

#[test]
fn flush_and_forget_port() {
    let table = LearningTable::in_memory(Geometry::NETMAP);
    for n in 0..20 {
        table.learn(&unicast(n), n % 3);
    }
    let before = table.entries().count();
    table.forget_port(1);
    let after: Vec<_> = table.entries().collect();
    assert!(after.len() < before);
    assert!(after.iter().all(|entry| entry.port != 1));
    table.flush();
    assert_eq!(table.entries().count(), 0);
    assert_eq!(table.lookup(&unicast(0)), None);
}

/// netmap's table as `netmap_bdg_learning` keeps it: one (MAC, port) per
/// row, written on every unicast source, read for unicast destinations.
/// Two differences are left out on purpose (docs/mac-table.md): netmap's
/// zeroed rows match MAC 00:00:00:00:00:00 to port 0 (so the pools here
/// avoid that MAC), and its per-port last-source cache is an engine detail.
struct NetmapModel {
    rows: Vec<Option<([u8; 6], u8)>>,
}

impl NetmapModel {
    fn forward(&mut self, src: &[u8; 6], dst: &[u8; 6], src_port: u8) -> u8 {
        if src[0] & 1 == 0 {
            self.rows[(netmap_mac_hash(src) & 1023) as usize] = Some((*src, src_port));
        }
        if dst[0] & 1 != 0 {
            return PORT_FLOOD;
        }
        match self.rows[(netmap_mac_hash(dst) & 1023) as usize] {
            Some((mac, port)) if mac == *dst => {
                if port == src_port {
                    PORT_DROP
                } else {
                    port
                }
            }
            _ => PORT_FLOOD,
        }
    }
}

#[test]
fn random_streams_match_netmap() {
    let seed: u64 = std::env::var("TABLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    println!("TABLE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    for _stream in 0..200 {
        let table = LearningTable::in_memory(Geometry::NETMAP);
        let mut model = NetmapModel {
            rows: vec![None; 1024],
        };
        // Many MACs over few bits: collisions, moves and group addresses.
        let pool: Vec<[u8; 6]> = (0..rng.gen_range(4..2000))
            .map(|_| {
                let mut mac = [0u8; 6];
                rng.fill(&mut mac[..]);
                mac[0] &= 0x03; // some group addresses, bit 1 (local) noise
                if mac == [0; 6] {
                    mac[5] = 1;
                }
                mac
            })
            .collect();
        for _frame in 0..500 {
            let src = pool[rng.gen_range(0..pool.len())];
            let dst = pool[rng.gen_range(0..pool.len())];
            let port = rng.gen_range(0..8);
            let ours = table.forward(&src, &dst, port, true);
            assert_eq!(ours.port, model.forward(&src, &dst, port), "seed {seed}");
        }
        for entry in table.entries() {
            assert_eq!(
                model.rows[entry.row as usize],
                Some((entry.mac, entry.port)),
                "seed {seed}"
            );
        }
        let model_count = model.rows.iter().flatten().count();
        assert_eq!(table.entries().count(), model_count, "seed {seed}");
    }
}
