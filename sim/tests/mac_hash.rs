//! Testbench of `mac_hash`: the RTL hash equals netmap's (the software
//! hash), one result per clock, three cycles of latency.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::models::HashPorts;
use vale_offload::hash::netmap_mac_hash;
use vale_offload::table::mac_to_bits;

/// Clock edges from `in_*` to `out_*`.
const LATENCY: usize = 3;

struct HashBench {
    ports: HashPorts,
}

impl HashBench {
    fn new() -> Self {
        let mut ports = HashPorts::new(sim::vcd_path_from_env().as_deref());
        ports.set_rst(1);
        let mut bench = HashBench { ports };
        bench.tick();
        bench.ports.set_rst(0);
        bench
    }

    fn tick(&mut self) {
        self.ports.set_clk(1);
        self.ports.eval();
        self.ports.set_clk(0);
        self.ports.eval();
    }
}

#[test]
fn netmap_vectors() {
    let mut bench = HashBench::new();
    let vectors = [
        ([0u8; 6], 0xbd49_d10d_u64),
        ([0xff; 6], 0x1c35_f25c),
        ([0x02, 0, 0, 0, 0, 0x01], 0xfe4d_445c),
        ([0x52, 0x54, 0x00, 0x12, 0x34, 0x56], 0x5869_d32e),
    ];
    for (mac, hash) in vectors {
        bench.ports.set_in_valid(1);
        bench.ports.set_in_mac(mac_to_bits(&mac));
        bench.tick();
        bench.ports.set_in_valid(0);
        for _ in 1..LATENCY {
            assert_eq!(bench.ports.out_valid(), 0, "too early");
            bench.tick();
        }
        assert_eq!(bench.ports.out_valid(), 1);
        assert_eq!(bench.ports.out_hash(), hash, "{mac:02x?}");
    }
}

#[test]
fn random_addresses_one_per_clock() {
    let mut bench = HashBench::new();
    let mut rng = StdRng::seed_from_u64(0x4a54);
    let mut in_flight: VecDeque<Option<[u8; 6]>> = (1..LATENCY).map(|_| None).collect();
    for cycle in 0..20_000 {
        let mac = rng.gen_ratio(7, 8).then(|| {
            let mut mac = [0u8; 6];
            rng.fill(&mut mac[..]);
            mac
        });
        bench.ports.set_in_valid(u64::from(mac.is_some()));
        bench.ports.set_in_mac(mac.map_or(0, |m| mac_to_bits(&m)));
        bench.tick();
        in_flight.push_back(mac);
        // The output shows the input of LATENCY clocks ago, every clock.
        let expected = in_flight.pop_front().unwrap();
        assert_eq!(
            bench.ports.out_valid() == 1,
            expected.is_some(),
            "cycle {cycle}"
        );
        if let Some(mac) = expected {
            assert_eq!(
                bench.ports.out_hash(),
                u64::from(netmap_mac_hash(&mac)),
                "cycle {cycle}"
            );
        }
    }
}
