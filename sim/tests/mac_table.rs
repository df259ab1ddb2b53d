//! Testbench of `mac_table` (with `mac_hash` and `learn_queue` inside)
//! through the device top: every case of the table's contract, checked
//! against the software table where a decision is involved.
#![forbid(unsafe_code)]

use sim::nic::{LookupRequest, Nic, NicVariant, LOOKUP_LATENCY};
use vale_offload::hash::netmap_mac_hash;
use vale_offload::regmap;
use vale_offload::table::{Geometry, LearnOutcome, LearningTable, PORT_DROP, PORT_FLOOD};

fn mac(last: u16) -> [u8; 6] {
    let b = last.to_be_bytes();
    [0x02, 0x00, 0x00, 0x00, b[0], b[1]]
}

fn frame(src: [u8; 6], dst: [u8; 6], src_port: u8) -> LookupRequest {
    LookupRequest {
        src,
        dst,
        src_port,
        learn: true,
        tag: 0,
    }
}

/// Unicast MACs sharing one row of `geometry`.
fn same_row(geometry: Geometry, count: usize) -> Vec<[u8; 6]> {
    let target = geometry.row_of(netmap_mac_hash(&[0x02, 0x33, 0, 0, 0, 0]));
    (0u32..)
        .map(|n| {
            let b = n.to_le_bytes();
            [0x02, 0x33, b[0], b[1], b[2], b[3]]
        })
        .filter(|m| geometry.row_of(netmap_mac_hash(m)) == target)
        .take(count)
        .collect()
}

#[test]
fn learn_then_hit_and_miss_floods() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let first = nic.lookup(frame(mac(1), mac(2), 3));
    assert_eq!((first.port, first.hit), (PORT_FLOOD, false));
    assert_eq!(first.learned, Some(LearnOutcome::Inserted));
    let reply = nic.lookup(frame(mac(2), mac(1), 5));
    assert_eq!((reply.port, reply.hit), (3, true));
    let again = nic.lookup(frame(mac(1), mac(2), 3));
    assert_eq!(
        (again.port, again.learned),
        (5, Some(LearnOutcome::Refreshed))
    );
    let counters = nic.counters();
    assert_eq!(
        (counters.hit, counters.miss, counters.learn, counters.flood),
        (2, 1, 2, 1)
    );
}

#[test]
fn multicast_floods_and_is_not_learned() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let group = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
    let result = nic.lookup(frame(group, [0xff; 6], 1));
    assert_eq!(result.port, PORT_FLOOD);
    assert_eq!(result.learned, Some(LearnOutcome::Skipped));
    nic.wait_idle();
    assert!(nic.table_entries().is_empty());
    // A learned unicast MAC never matches a group destination.
    nic.lookup(frame(mac(4), mac(5), 2));
    let result = nic.lookup(frame(mac(6), group, 1));
    assert_eq!((result.port, result.hit), (PORT_FLOOD, false));
    assert_eq!(nic.counters().miss, 1, "group destinations are not misses");
}

#[test]
fn destination_on_source_port_drops() {
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.lookup(frame(mac(2), mac(9), 4));
    let result = nic.lookup(frame(mac(1), mac(2), 4));
    assert_eq!((result.port, result.hit), (PORT_DROP, true));
    // To itself: its own learn is visible to its own lookup.
    let result = nic.lookup(frame(mac(7), mac(7), 6));
    assert_eq!(
        (result.port, result.learned),
        (PORT_DROP, Some(LearnOutcome::Inserted))
    );
    assert_eq!(nic.counters().drop, 2);
}

#[test]
fn collision_overwrites_at_netmap_geometry() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let pair = same_row(Geometry::NETMAP, 2);
    let row_of = |m: &[u8; 6]| Geometry::NETMAP.row_of(netmap_mac_hash(m));
    assert_ne!(row_of(&pair[0]), row_of(&mac(1)));
    nic.lookup(frame(pair[0], mac(1), 1));
    let second = nic.lookup(frame(pair[1], mac(1), 2));
    assert_eq!(second.learned, Some(LearnOutcome::Evicted));
    assert_eq!(nic.lookup(frame(mac(1), pair[0], 3)).port, PORT_FLOOD);
    assert_eq!(nic.lookup(frame(mac(1), pair[1], 3)).port, 2);
    nic.wait_idle();
    let row = Geometry::NETMAP.row_of(netmap_mac_hash(&pair[1]));
    let entries: Vec<_> = nic
        .table_entries()
        .into_iter()
        .filter(|e| e.row == row)
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].mac, entries[0].port), (pair[1], 2));
}

#[test]
fn ways_fill_then_evict_the_victim() {
    let mut nic = Nic::new(NicVariant::SmallWays);
    let geometry = nic.geometry();
    let macs = same_row(geometry, 5);
    for (port, m) in macs[..4].iter().enumerate() {
        let result = nic.lookup(frame(*m, mac(0x100), port as u8));
        assert_eq!(result.learned, Some(LearnOutcome::Inserted));
    }
    let victim = geometry.victim_way(netmap_mac_hash(&macs[4])) as usize;
    assert_eq!(
        nic.lookup(frame(macs[4], mac(0x100), 9)).learned,
        Some(LearnOutcome::Evicted)
    );
    for (port, m) in macs[..4].iter().enumerate() {
        let expected = if port == victim {
            PORT_FLOOD
        } else {
            port as u8
        };
        assert_eq!(nic.lookup(frame(mac(0x101), *m, 20)).port, expected);
    }
    assert_eq!(nic.lookup(frame(mac(0x101), macs[4], 20)).port, 9);
}

#[test]
fn relearn_on_port_move() {
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.lookup(frame(mac(1), mac(2), 1));
    let moved = nic.lookup(frame(mac(1), mac(2), 7));
    assert_eq!(moved.learned, Some(LearnOutcome::Moved));
    assert_eq!(nic.lookup(frame(mac(2), mac(1), 3)).port, 7);
    nic.wait_idle();
    let ports: Vec<_> = nic
        .table_entries()
        .iter()
        .map(|e| (e.mac, e.port))
        .collect();
    assert!(ports.contains(&(mac(1), 7)));
    assert!(!ports.contains(&(mac(1), 1)));
}

#[test]
fn flush_forgets_everything() {
    let mut nic = Nic::new(NicVariant::Netmap);
    for n in 0..30 {
        nic.lookup(frame(mac(n), mac(1000), (n % 5) as u8));
    }
    nic.wait_idle();
    assert_eq!(nic.table_entries().len(), 30);
    nic.flush();
    assert!(nic.table_entries().is_empty());
    assert_eq!(nic.lookup(frame(mac(1000), mac(3), 1)).port, PORT_FLOOD);
}

#[test]
fn flush_is_immediate_for_the_next_frame() {
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.lookup(frame(mac(1), mac(2), 1));
    nic.start_flush();
    // The sweep is still running, yet the table already reads empty, and a
    // learn made during the sweep is visible at once and kept afterwards.
    assert_ne!(
        nic.bar0_read(regmap::SW_STATUS) & regmap::SW_STATUS_FLUSHING,
        0
    );
    let during = nic.lookup(frame(mac(3), mac(1), 2));
    assert_eq!(
        (during.port, during.learned),
        (PORT_FLOOD, Some(LearnOutcome::Inserted))
    );
    assert_eq!(nic.lookup(frame(mac(4), mac(3), 1)).port, 2);
    nic.wait_idle();
    let macs: Vec<_> = nic.table_entries().iter().map(|e| e.mac).collect();
    assert_eq!(macs.len(), 2);
    assert!(macs.contains(&mac(3)) && macs.contains(&mac(4)));
}

#[test]
fn back_to_back_one_lookup_per_clock_at_fixed_latency() {
    let mut nic = Nic::new(NicVariant::Netmap);
    // Each frame's source is the next frame's destination: every lookup
    // depends on the learn of the frame one clock before it.
    let requests: Vec<_> = (0..200u16)
        .map(|n| LookupRequest {
            src: mac(n + 1),
            dst: mac(n),
            src_port: (n % 4) as u8,
            learn: true,
            tag: n,
        })
        .collect();
    let start = nic.cycles();
    let mut arrivals = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        if let Some(result) = nic.lookup_cycle(Some(*request)) {
            arrivals.push((nic.cycles() - start, result, i));
        }
    }
    while arrivals.len() < requests.len() {
        if let Some(result) = nic.lookup_cycle(None) {
            arrivals.push((nic.cycles() - start, result, 0));
        }
    }
    let golden = LearningTable::in_memory(Geometry::NETMAP);
    for (n, (cycle, result, _)) in arrivals.iter().enumerate() {
        assert_eq!(result.tag, n as u16, "results in order");
        assert_eq!(
            *cycle,
            n as u64 + LOOKUP_LATENCY,
            "one result per clock, fixed latency"
        );
        let request = requests[n];
        let expected = golden.forward(&request.src, &request.dst, request.src_port, true);
        assert_eq!(result.port, expected.port, "frame {n}");
        assert_eq!(result.hit, expected.hit, "frame {n}");
        assert_eq!(result.learned, Some(expected.learned), "frame {n}");
    }
    assert_eq!(
        nic.counters().overflow,
        0,
        "learning never overflows without a flush"
    );
}

#[test]
fn learn_queue_overflow_during_flush_is_counted() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let depth = nic.bar0_read(regmap::SW_QUEUE_DEPTH);
    nic.start_flush();
    // Distinct rows, so no two learns merge.
    let mut sources = Vec::new();
    let mut rows = std::collections::HashSet::new();
    for n in 0u16.. {
        if rows.insert(Geometry::NETMAP.row_of(netmap_mac_hash(&mac(n)))) {
            sources.push(mac(n));
            if sources.len() == depth as usize + 5 {
                break;
            }
        }
    }
    let requests: Vec<_> = sources.iter().map(|s| frame(*s, [0xff; 6], 1)).collect();
    nic.lookup_burst(&requests);
    // Merging: learning a queued source again costs no slot.
    nic.lookup_burst(&requests[..2]);
    nic.wait_idle();
    let counters = nic.counters();
    assert_eq!(counters.overflow, 5);
    assert_eq!(nic.table_entries().len(), depth as usize);
}
