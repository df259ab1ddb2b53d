//! Testbench of `mac_table` (with `mac_hash` and `learn_queue` inside)
//! through the device top: every case of the table's contract, checked
//! against the software table where a decision is involved.
#![forbid(unsafe_code)]

use sim::nic::{LookupRequest, LookupResult, Nic, NicVariant, COMMAND_LEAD, LOOKUP_LATENCY};
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

/// The MACs of the valid entries, read back through BAR0, with their ports.
fn learned(nic: &mut Nic) -> Vec<([u8; 6], u8)> {
    nic.wait_idle();
    let mut entries: Vec<_> = nic
        .table_entries()
        .iter()
        .map(|e| (e.mac, e.port))
        .collect();
    entries.sort_unstable();
    entries
}

fn flushing(nic: &mut Nic) -> bool {
    nic.bar0_read(regmap::SW_STATUS) & regmap::SW_STATUS_FLUSHING != 0
}

#[test]
fn forget_port_removes_its_entries_and_keeps_the_others() {
    for variant in [NicVariant::Netmap, NicVariant::SmallWays] {
        let mut nic = Nic::new(variant);
        let golden = LearningTable::in_memory(nic.geometry());
        let frames = [
            frame(mac(1), mac(9), 2),
            frame(mac(2), mac(9), 3),
            frame(mac(3), mac(9), 2),
        ];
        for f in frames {
            nic.lookup(f);
            golden.forward(&f.src, &f.dst, f.src_port, true);
        }
        nic.forget_port(2);
        golden.forget_port(2);
        assert!(!flushing(&mut nic), "a forget is not a flush");
        assert_eq!(learned(&mut nic), vec![(mac(2), 3)], "{variant:?}");
        // mac(1) and mac(3) miss; mac(2) still hits; mac(1) is new again.
        let checks = [
            frame(mac(7), mac(1), 4),
            frame(mac(7), mac(2), 4),
            frame(mac(7), mac(3), 4),
            frame(mac(1), mac(2), 5),
        ];
        let results: Vec<_> = checks.iter().map(|f| nic.lookup(*f)).collect();
        assert_eq!(
            results.iter().map(|r| (r.port, r.hit)).collect::<Vec<_>>(),
            vec![
                (PORT_FLOOD, false),
                (3, true),
                (PORT_FLOOD, false),
                (3, true)
            ]
        );
        assert_eq!(results[3].learned, Some(LearnOutcome::Inserted));
        for (f, r) in checks.iter().zip(&results) {
            let expected = golden.forward(&f.src, &f.dst, f.src_port, true);
            assert_eq!(
                (r.port, r.hit, r.learned),
                (expected.port, expected.hit, Some(expected.learned))
            );
        }
        assert_eq!(nic.counters().overflow, 0);
    }
}

/// Offers `request` at cycle `c`, writes `SW_FORGET_PORT` at `c + offset`,
/// drains the pipeline; returns the request's result.
fn learn_then_forget(
    nic: &mut Nic,
    request: LookupRequest,
    offset: u64,
    port: u32,
) -> LookupResult {
    let start = nic.cycles();
    let mut results: Vec<_> = nic.lookup_cycle(Some(request)).into_iter().collect();
    while nic.cycles() < start + offset {
        results.extend(nic.lookup_cycle(None));
    }
    results.extend(nic.bar0_write_cycle(regmap::SW_FORGET_PORT, port));
    for _ in 0..LOOKUP_LATENCY {
        results.extend(nic.lookup_cycle(None));
    }
    assert_eq!(results.len(), 1);
    results[0]
}

#[test]
fn a_learn_in_flight_at_the_forget_is_forgotten_only_if_it_came_first() {
    let mut nic = Nic::new(NicVariant::Netmap);
    // Offsets 0 ..= 8 put the learn of frame F in every place at the
    // forget: hash stages, learn stage, queue, last write, memory.
    for offset in 0..=8u64 {
        let source = mac(0x100 + offset as u16);
        let result = learn_then_forget(&mut nic, frame(source, mac(9), 4), offset, 4);
        assert_eq!(
            result.learned,
            Some(LearnOutcome::Inserted),
            "offset {offset}"
        );
        let reply = nic.lookup(frame(mac(9), source, 1));
        let forgotten = offset >= COMMAND_LEAD;
        let expected = if forgotten { PORT_FLOOD } else { 4 };
        assert_eq!(reply.port, expected, "offset {offset}");
        nic.wait_idle();
        let kept = learned(&mut nic).contains(&(source, 4));
        assert_eq!(kept, !forgotten, "readback, offset {offset}");
    }
    // The last forget took every older learn of port 4; port 1's stays.
    assert_eq!(learned(&mut nic), vec![(mac(9), 1)]);
}

#[test]
fn a_learn_queued_behind_a_flush_sweep_is_forgotten() {
    let mut nic = Nic::new(NicVariant::Netmap);
    nic.start_flush();
    // The sweep holds the write port: this learn waits in the queue.
    nic.lookup(frame(mac(1), mac(9), 2));
    assert!(flushing(&mut nic));
    nic.forget_port(2);
    nic.lookup(frame(mac(2), mac(9), 3));
    assert!(flushing(&mut nic), "the forget came during the sweep");
    assert_eq!(nic.lookup(frame(mac(5), mac(1), 4)).port, PORT_FLOOD);
    assert_eq!(nic.lookup(frame(mac(5), mac(2), 4)).port, 3);
    // Its write reaches memory after the sweep, and still reads as empty.
    assert_eq!(learned(&mut nic), vec![(mac(2), 3), (mac(5), 4)]);
    assert_eq!(nic.lookup(frame(mac(6), mac(1), 4)).port, PORT_FLOOD);
    assert_eq!(nic.counters().overflow, 0);
}

#[test]
fn a_generation_that_wraps_flushes_so_nothing_revives() {
    let mut nic = Nic::new(NicVariant::Netmap);
    // mac(1) is learned on port 1 at generation 0.
    nic.lookup(frame(mac(1), mac(9), 1));
    nic.lookup(frame(mac(2), mac(9), 2));
    for n in 1..256 {
        nic.forget_port(1);
        assert!(!flushing(&mut nic), "forget {n} flushed");
    }
    // Generation 255: port 2's entry survived every forget of port 1.
    assert_eq!(learned(&mut nic), vec![(mac(2), 2)]);
    nic.lookup(frame(mac(3), mac(9), 1));
    // The 256th forget brings generation 0 back: mac(1) would revive, so
    // it flushes, port 2's entry too (the one divergence, mac-table.md).
    nic.forget_port(1);
    assert!(flushing(&mut nic));
    assert_eq!(nic.lookup(frame(mac(5), mac(1), 4)).port, PORT_FLOOD);
    assert_eq!(nic.lookup(frame(mac(5), mac(2), 4)).port, PORT_FLOOD);
    assert_eq!(nic.lookup(frame(mac(5), mac(3), 4)).port, PORT_FLOOD);
    assert_eq!(learned(&mut nic), vec![(mac(5), 4)]);
    // Port 1 learns again at generation 0.
    nic.lookup(frame(mac(1), mac(9), 1));
    assert_eq!(nic.lookup(frame(mac(5), mac(1), 4)).port, 1);
}

#[test]
fn forgetting_a_port_without_generation_flushes_and_non_ports_do_nothing() {
    let mut nic = Nic::new(NicVariant::Netmap);
    let ports = nic.num_ports();
    nic.lookup(frame(mac(1), mac(9), 1));
    nic.lookup(frame(mac(2), mac(9), 200));
    // 254 and 255 are never in the table; above 255 is no port at all.
    for value in [254, 255, 0x100 | 1, u32::MAX] {
        nic.forget_port(value);
        assert!(!flushing(&mut nic), "forget of {value:#x}");
        assert_eq!(learned(&mut nic), vec![(mac(1), 1), (mac(2), 200)]);
    }
    // Port 200 is beyond the port table (the lookup port can name it): no
    // generation, so forgetting it flushes, never leaving its entries.
    assert!(200 >= ports);
    nic.forget_port(200);
    assert!(flushing(&mut nic));
    assert!(learned(&mut nic).is_empty());
}
