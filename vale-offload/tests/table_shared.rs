//! The table over a store shared by several threads (as processes share it
//! through memory): entries never tear and every learner's writes land.
#![forbid(unsafe_code)]

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use vale_offload::table::{Entry, Geometry, LearningTable};

#[test]
fn concurrent_learners_leave_only_whole_entries() {
    let geometry = Geometry::new(256, 2).unwrap();
    let store: Arc<[AtomicU64]> = (0..geometry.entries()).map(|_| AtomicU64::new(0)).collect();
    let threads: Vec<_> = (0..4u8)
        .map(|port| {
            let table = LearningTable::new(geometry, Arc::clone(&store)).unwrap();
            std::thread::spawn(move || {
                for round in 0..2000u32 {
                    let b = (round % 300).to_le_bytes();
                    let mac = [0x02, 0x00, port, b[0], b[1], 0x01];
                    table.learn(&mac, port);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let table = LearningTable::new(geometry, Arc::clone(&store)).unwrap();
    let entries: Vec<_> = table.entries().collect();
    assert!(!entries.is_empty());
    for entry in &entries {
        // Each thread only learns MACs whose byte 2 is its port.
        assert_eq!(entry.mac[2], entry.port);
        let word = table.raw(entry.row, entry.way);
        assert_eq!(Entry::unpack(word).map(|e| e.port), Some(entry.port));
    }
}

#[test]
fn a_second_view_of_the_store_sees_the_first_ones_learns() {
    let store: Vec<AtomicU64> = (0..1024).map(|_| AtomicU64::new(0)).collect();
    let writer = LearningTable::new(Geometry::NETMAP, &store[..]).unwrap();
    let reader = LearningTable::new(Geometry::NETMAP, &store[..]).unwrap();
    writer.learn(&[0x02, 0, 0, 0, 0, 5], 3);
    assert_eq!(reader.lookup(&[0x02, 0, 0, 0, 0, 5]), Some(3));
}
