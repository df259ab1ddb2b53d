//! Set-associative geometries: free ways first, then the hash's victim way.
#![forbid(unsafe_code)]

use vale_offload::hash::netmap_mac_hash;
use vale_offload::table::{Geometry, LearnOutcome, LearningTable};

/// `count` unicast MACs that all fall in the row of the first one.
fn same_row_macs(geometry: Geometry, count: usize) -> Vec<[u8; 6]> {
    let mut macs = Vec::new();
    let mut row = None;
    for n in 0u32.. {
        let b = n.to_le_bytes();
        let mac = [0x02, 0x42, b[0], b[1], b[2], b[3]];
        let this_row = geometry.row_of(netmap_mac_hash(&mac));
        if *row.get_or_insert(this_row) == this_row {
            macs.push(mac);
            if macs.len() == count {
                break;
            }
        }
    }
    macs
}

#[test]
fn fills_free_ways_before_evicting() {
    let geometry = Geometry::new(16, 4).unwrap();
    let table = LearningTable::in_memory(geometry);
    let macs = same_row_macs(geometry, 5);
    for (port, mac) in macs[..4].iter().enumerate() {
        assert_eq!(table.learn(mac, port as u8), LearnOutcome::Inserted);
    }
    let ways: Vec<u32> = table.entries().map(|entry| entry.way).collect();
    assert_eq!(ways, vec![0, 1, 2, 3]);
    for (port, mac) in macs[..4].iter().enumerate() {
        assert_eq!(table.lookup(mac), Some(port as u8));
    }
    // The fifth replaces exactly the way its hash names.
    let victim = geometry.victim_way(netmap_mac_hash(&macs[4]));
    assert_eq!(table.learn(&macs[4], 9), LearnOutcome::Evicted);
    assert_eq!(table.lookup(&macs[4]), Some(9));
    assert_eq!(table.lookup(&macs[victim as usize]), None);
    assert_eq!(table.entries().count(), 4);
}

#[test]
fn move_keeps_the_way() {
    let geometry = Geometry::new(16, 4).unwrap();
    let table = LearningTable::in_memory(geometry);
    let macs = same_row_macs(geometry, 3);
    for mac in &macs {
        table.learn(mac, 1);
    }
    let before: Vec<_> = table.entries().map(|e| (e.mac, e.way)).collect();
    assert_eq!(table.learn(&macs[1], 2), LearnOutcome::Moved);
    let after: Vec<_> = table.entries().map(|e| (e.mac, e.way)).collect();
    assert_eq!(before, after);
    assert_eq!(table.lookup(&macs[1]), Some(2));
}

#[test]
fn victim_way_uses_bits_above_the_row() {
    let geometry = Geometry::new(8192, 4).unwrap();
    assert_eq!(geometry.row_of(0x0001_7fff), 0x1fff);
    assert_eq!(geometry.victim_way(0x0001_7fff), 3);
    assert_eq!(geometry.victim_way(0x0001_9fff), 0);
    assert_eq!(geometry.victim_way(0x0000_6000), 3);
    assert_eq!(Geometry::NETMAP.victim_way(0xffff_ffff), 0);
}
