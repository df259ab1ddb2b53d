//! Host memory as the device sees it: shared regions mapped at device
//! addresses (IOVAs), and the DMA responder that serves the model's DMA
//! master port from them.
//!
//! Every access is bounds-checked against one mapping (an access may not
//! straddle two) and counted. A DMA the host did not map is an error the
//! device cannot see: reads return zeros, writes are dropped, and both are
//! counted in [`LinkCounters::dma_errors`].
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use netmap_ring::shm::SharedRegion;

/// Bytes per DMA data beat (the 512-bit data path).
pub const BEAT_BYTES: usize = 64;

/// Errors of DMA mapping.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DmaMapError {
    #[error("mapping of {len:#x} bytes at {iova:#x} overlaps the one at {other:#x}")]
    Overlap { iova: u64, len: u64, other: u64 },
    #[error("mapping of {len:#x} bytes at {iova:#x} wraps the address space")]
    Wraps { iova: u64, len: u64 },
}

/// What crossed the modelled PCIe link, counted by the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkCounters {
    /// 32-bit BAR0 reads (about a microsecond each on PCIe).
    pub mmio_reads: u64,
    /// 32-bit BAR0 writes (posted).
    pub mmio_writes: u64,
    /// Bytes read from and written into BAR2.
    pub bar2_read_bytes: u64,
    pub bar2_write_bytes: u64,
    /// DMA read requests and the bytes they asked for.
    pub dma_read_requests: u64,
    pub dma_read_bytes: u64,
    /// DMA write requests and their bytes.
    pub dma_write_requests: u64,
    pub dma_write_bytes: u64,
    /// DMA accesses outside every mapping (reads answered with zeros,
    /// writes dropped).
    pub dma_errors: u64,
    /// Notification pulses raised by the device.
    pub notifications: u64,
}

impl LinkCounters {
    /// The counts accumulated since `earlier`.
    pub fn since(&self, earlier: &LinkCounters) -> LinkCounters {
        LinkCounters {
            mmio_reads: self.mmio_reads - earlier.mmio_reads,
            mmio_writes: self.mmio_writes - earlier.mmio_writes,
            bar2_read_bytes: self.bar2_read_bytes - earlier.bar2_read_bytes,
            bar2_write_bytes: self.bar2_write_bytes - earlier.bar2_write_bytes,
            dma_read_requests: self.dma_read_requests - earlier.dma_read_requests,
            dma_read_bytes: self.dma_read_bytes - earlier.dma_read_bytes,
            dma_write_requests: self.dma_write_requests - earlier.dma_write_requests,
            dma_write_bytes: self.dma_write_bytes - earlier.dma_write_bytes,
            dma_errors: self.dma_errors - earlier.dma_errors,
            notifications: self.notifications - earlier.notifications,
        }
    }
}

/// Shared regions at device addresses.
#[derive(Default)]
pub struct HostMemory {
    maps: Vec<(u64, Arc<SharedRegion>)>,
}

impl HostMemory {
    /// Maps `region` at device address `iova`.
    pub fn map(&mut self, iova: u64, region: Arc<SharedRegion>) -> Result<(), DmaMapError> {
        let len = region.len() as u64;
        let end = iova
            .checked_add(len)
            .ok_or(DmaMapError::Wraps { iova, len })?;
        for (other, mapped) in &self.maps {
            if iova < other + mapped.len() as u64 && *other < end {
                return Err(DmaMapError::Overlap {
                    iova,
                    len,
                    other: *other,
                });
            }
        }
        self.maps.push((iova, region));
        Ok(())
    }

    /// Removes the mapping at `iova`, returning its region.
    pub fn unmap(&mut self, iova: u64) -> Option<Arc<SharedRegion>> {
        let at = self.maps.iter().position(|(base, _)| *base == iova)?;
        Some(self.maps.swap_remove(at).1)
    }

    /// The region and offset holding `len` bytes at `addr`, if one mapping
    /// holds them all.
    fn find(&self, addr: u64, len: usize) -> Option<(&SharedRegion, usize)> {
        let end = addr.checked_add(len as u64)?;
        self.maps.iter().find_map(|(base, region)| {
            (addr >= *base && end <= base + region.len() as u64)
                .then(|| (&**region, (addr - base) as usize))
        })
    }

    /// Reads `out.len()` bytes at device address `addr`; false when no
    /// mapping holds them.
    pub fn read(&self, addr: u64, out: &mut [u8]) -> bool {
        match self.find(addr, out.len()) {
            Some((region, offset)) => region.read_bytes(offset, out).is_ok(),
            None => false,
        }
    }

    /// Writes `data` at device address `addr`; false when no mapping holds it.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr, data.len()) {
            Some((region, offset)) => region.write_bytes(offset, data).is_ok(),
            None => false,
        }
    }
}

/// The host side of the DMA port as a PCIe link would present it.
///
/// The defaults ([`HostConfig::default`], [`HostConfig::PCIE_GEN4_X16`])
/// represent a PCIe Gen4 x16 endpoint clocked at 250 MHz: a 600 ns read
/// round trip (150 cycles), 256 read tags, completions of at most 256
/// bytes (a common Max Payload Size) returned with up to 32 cycles of
/// jitter so that completions of different requests overtake each other,
/// and 64 bytes (512 bits) per cycle each way. The link itself carries
/// about 31.5 GB/s each way (16 GT/s x 16 lanes, 128b/130b), 126 bytes per
/// cycle at 250 MHz: the 512-bit interface, not the link, is the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Cycles from a read request being accepted to the first beat of its
    /// first completion (without jitter).
    pub read_latency: u64,
    /// Reads in flight at most (requests accepted whose last beat has not
    /// been taken); the request channel is not ready while the limit is
    /// reached. A tag the device reuses while it is in flight is a device
    /// bug (it panics).
    pub tags: usize,
    /// Completions carry at most this many bytes (a multiple of
    /// [`BEAT_BYTES`]); a longer read is split at multiples of it from its
    /// start. Completions of one request keep their order.
    pub completion_bytes: usize,
    /// Each completion's trip is jittered over this many cycles (uniform,
    /// seeded, centred on `read_latency`, at least one cycle), and a due
    /// completion may pass an earlier one still due later; 0 returns
    /// completions strictly in request order.
    pub reorder_cycles: u64,
    /// Seed of the jitter (the same seed, the same order).
    pub seed: u64,
    /// Host-to-device bytes per cycle (read completions).
    pub down_bytes_per_cycle: u64,
    /// Device-to-host bytes per cycle (write payloads).
    pub up_bytes_per_cycle: u64,
}

impl HostConfig {
    /// PCIe Gen4 x16 at 250 MHz (see the type's documentation).
    pub const PCIE_GEN4_X16: HostConfig = HostConfig {
        read_latency: 150,
        tags: 256,
        completion_bytes: 256,
        reorder_cycles: 32,
        seed: 1,
        down_bytes_per_cycle: BEAT_BYTES as u64,
        up_bytes_per_cycle: BEAT_BYTES as u64,
    };

    /// The old ideal responder: in order, unsplit, one beat per cycle.
    pub const IDEAL: HostConfig = HostConfig {
        read_latency: 4,
        tags: 256,
        completion_bytes: 8192,
        reorder_cycles: 0,
        seed: 1,
        down_bytes_per_cycle: BEAT_BYTES as u64,
        up_bytes_per_cycle: BEAT_BYTES as u64,
    };

    /// This configuration with another read round trip.
    pub fn with_latency(self, read_latency: u64) -> Self {
        Self {
            read_latency,
            ..self
        }
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        Self::PCIE_GEN4_X16
    }
}

/// One response beat of the DMA read channel.
#[derive(Clone, Copy, Debug)]
pub struct ReadBeat {
    pub data: [u32; 16],
    /// The request's tag, on every beat.
    pub tag: u8,
    /// The last beat of the request (not of a completion).
    pub last: bool,
}

/// One completion: consecutive beats of one request.
struct Completion {
    /// Request number (order of acceptance).
    request: u64,
    /// The first cycle its first beat may be presented.
    due: u64,
    beats: VecDeque<ReadBeat>,
}

/// The host side of the DMA port (see [`HostConfig`]): reads are taken
/// from memory when requested (a later host write is not seen, as on PCIe
/// where the completion carries the data read then), split into
/// completions, and answered after the round trip plus a seeded jitter,
/// one beat per cycle at most and within the downstream bandwidth; a
/// completion, once started, is sent whole; completions of one request
/// keep their order, those of different requests may pass each other.
/// Writes are performed when accepted, in order, before any read accepted
/// in the same cycle (a read never passes an earlier write), within the
/// upstream bandwidth.
pub struct DmaResponder {
    config: HostConfig,
    completions: Vec<Completion>,
    /// Index in `completions` of the one being sent.
    sending: Option<usize>,
    /// Tags of the reads in flight (bit per tag).
    in_flight: [u64; 4],
    reads_in_flight: usize,
    requests: u64,
    rng: u64,
    down_credit: u64,
    up_credit: u64,
    last_refill: u64,
}

impl DmaResponder {
    /// A responder with `config`.
    pub fn new(config: HostConfig) -> Self {
        assert!(
            config.completion_bytes >= BEAT_BYTES
                && config.completion_bytes.is_multiple_of(BEAT_BYTES),
            "completion size must be whole beats"
        );
        assert!((1..=256).contains(&config.tags), "1 to 256 tags");
        Self {
            config,
            completions: Vec::new(),
            sending: None,
            in_flight: [0; 4],
            reads_in_flight: 0,
            requests: 0,
            rng: config.seed | 1,
            down_credit: BEAT_BYTES as u64,
            up_credit: BEAT_BYTES as u64,
            last_refill: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> HostConfig {
        self.config
    }

    /// Changes the configuration (for requests from now on; the jitter
    /// generator restarts from the new seed).
    pub fn set_config(&mut self, config: HostConfig) {
        let fresh = Self::new(config);
        self.config = fresh.config;
        self.rng = fresh.rng;
    }

    /// Cycles from a read request to its first beat.
    pub fn latency(&self) -> u64 {
        self.config.read_latency
    }

    /// Changes the read latency (for requests from now on).
    pub fn set_latency(&mut self, cycles: u64) {
        self.config.read_latency = cycles;
    }

    fn jitter(&mut self) -> u64 {
        if self.config.reorder_cycles == 0 {
            return 0;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % (self.config.reorder_cycles + 1)
    }

    /// Adds the bandwidth credit of the cycles up to `now` (at most one
    /// beat's worth banked, so a burst never exceeds the rate).
    fn refill(&mut self, now: u64) {
        let cycles = now.saturating_sub(self.last_refill);
        self.last_refill = self.last_refill.max(now);
        let cap = BEAT_BYTES as u64 + self.config.down_bytes_per_cycle;
        self.down_credit = (self.down_credit + cycles * self.config.down_bytes_per_cycle).min(cap);
        let cap = BEAT_BYTES as u64 + self.config.up_bytes_per_cycle;
        self.up_credit = (self.up_credit + cycles * self.config.up_bytes_per_cycle).min(cap);
    }

    /// Whether a read request can be accepted in cycle `now` (a tag free).
    pub fn read_ready(&self) -> bool {
        self.reads_in_flight < self.config.tags
    }

    /// Whether a write of a beat can be accepted in cycle `now`.
    pub fn write_ready(&mut self, now: u64) -> bool {
        self.refill(now);
        self.up_credit >= BEAT_BYTES as u64
    }

    /// Serves a read request accepted at cycle `now`.
    pub fn read_request(
        &mut self,
        memory: &HostMemory,
        counters: &mut LinkCounters,
        now: u64,
        addr: u64,
        len: usize,
        tag: u8,
    ) {
        counters.dma_read_requests += 1;
        counters.dma_read_bytes += len as u64;
        let (word, bit) = (usize::from(tag) / 64, u64::from(tag) % 64);
        assert!(
            self.in_flight[word] >> bit & 1 == 0,
            "DMA read tag {tag} reused while in flight"
        );
        self.in_flight[word] |= 1 << bit;
        self.reads_in_flight += 1;
        let mut bytes = vec![0u8; len.div_ceil(BEAT_BYTES).max(1) * BEAT_BYTES];
        if !memory.read(addr, &mut bytes[..len]) {
            counters.dma_errors += 1;
            bytes.fill(0);
        }
        let count = bytes.len() / BEAT_BYTES;
        let request = self.requests;
        self.requests += 1;
        let per = self.config.completion_bytes / BEAT_BYTES;
        let mut earliest = 0;
        for (c, chunk) in bytes.chunks(self.config.completion_bytes).enumerate() {
            let first = c * per;
            let beats: VecDeque<ReadBeat> = chunk
                .chunks_exact(BEAT_BYTES)
                .enumerate()
                .map(|(i, beat)| {
                    let mut data = [0u32; 16];
                    for (word, four) in data.iter_mut().zip(beat.chunks_exact(4)) {
                        *word = u32::from_le_bytes(four.try_into().expect("4 bytes"));
                    }
                    ReadBeat {
                        data,
                        tag,
                        last: first + i + 1 == count,
                    }
                })
                .collect();
            // The jitter is centred on the round trip (at least a cycle):
            // reordering does not lengthen the mean trip.
            let trip = (self.config.read_latency + self.jitter())
                .saturating_sub(self.config.reorder_cycles / 2)
                .max(1);
            let due = (now + trip + first as u64).max(earliest);
            earliest = due + beats.len() as u64;
            self.completions.push(Completion {
                request,
                due,
                beats,
            });
        }
    }

    /// Performs a write request (bytes 0 .. len of `data`) accepted at
    /// cycle `now`.
    pub fn write_request(
        &mut self,
        memory: &HostMemory,
        counters: &mut LinkCounters,
        now: u64,
        addr: u64,
        len: usize,
        data: &[u32; 16],
    ) {
        self.refill(now);
        self.up_credit = self.up_credit.saturating_sub(BEAT_BYTES as u64);
        counters.dma_write_requests += 1;
        counters.dma_write_bytes += len as u64;
        let mut bytes = [0u8; BEAT_BYTES];
        for (four, word) in bytes.chunks_exact_mut(4).zip(data) {
            four.copy_from_slice(&word.to_le_bytes());
        }
        let len = len.min(BEAT_BYTES);
        if !memory.write(addr, &bytes[..len]) {
            counters.dma_errors += 1;
        }
    }

    /// Picks the completion to send from cycle `now`: the one being sent,
    /// else the due one with the earliest due cycle (then request order)
    /// among those that are the oldest left of their request.
    fn choose(&mut self, now: u64) -> Option<usize> {
        if self.sending.is_some() {
            return self.sending;
        }
        if self.config.reorder_cycles == 0 {
            // In order: the oldest completion, when due.
            return self.completions.first().filter(|c| c.due <= now).map(|_| 0);
        }
        let mut best: Option<usize> = None;
        for (i, c) in self.completions.iter().enumerate() {
            if c.due > now {
                continue;
            }
            // An earlier completion of the same request goes first (the
            // vector keeps acceptance order).
            if self.completions[..i].iter().any(|e| e.request == c.request) {
                continue;
            }
            if best.is_none_or(|b| {
                let b = &self.completions[b];
                (c.due, c.request) < (b.due, b.request)
            }) {
                best = Some(i);
            }
        }
        best
    }

    /// The beat to present in cycle `now`, if one is due and the
    /// downstream bandwidth allows.
    pub fn current(&mut self, now: u64) -> Option<ReadBeat> {
        self.refill(now);
        if self.down_credit < BEAT_BYTES as u64 {
            return None;
        }
        let at = self.choose(now)?;
        self.sending = Some(at);
        self.completions[at].beats.front().copied()
    }

    /// The presented beat was accepted.
    pub fn pop(&mut self) {
        let at = self.sending.expect("a beat was presented");
        self.down_credit = self.down_credit.saturating_sub(BEAT_BYTES as u64);
        let completion = &mut self.completions[at];
        let beat = completion.beats.pop_front().expect("a beat was presented");
        if completion.beats.is_empty() {
            self.completions.remove(at);
            self.sending = None;
        }
        if beat.last {
            let (word, bit) = (usize::from(beat.tag) / 64, u64::from(beat.tag) % 64);
            self.in_flight[word] &= !(1 << bit);
            self.reads_in_flight -= 1;
        }
    }

    /// Read beats not yet delivered.
    pub fn pending(&self) -> usize {
        self.completions.iter().map(|c| c.beats.len()).sum()
    }

    /// Reads accepted whose last beat has not been delivered.
    pub fn reads_in_flight(&self) -> usize {
        self.reads_in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_bounds_checked_and_do_not_overlap() {
        let mut memory = HostMemory::default();
        let region = Arc::new(SharedRegion::create("host-test", 4096).unwrap());
        memory.map(0x1_0000, region.clone()).unwrap();
        assert!(matches!(
            memory.map(0x1_0800, region.clone()),
            Err(DmaMapError::Overlap { .. })
        ));
        assert!(memory.write(0x1_0ffc, &[1, 2, 3, 4]));
        assert!(!memory.write(0x1_0ffd, &[1, 2, 3, 4]), "straddles the end");
        assert!(!memory.write(0xfffc, &[1, 2, 3, 4]), "before the start");
        let mut out = [0u8; 4];
        assert!(memory.read(0x1_0ffc, &mut out));
        assert_eq!(out, [1, 2, 3, 4]);
        assert_eq!(region.read::<u32>(4092).unwrap(), 0x0403_0201);
        assert!(memory.unmap(0x1_0000).is_some());
        assert!(!memory.read(0x1_0ffc, &mut out));
    }

    fn region_with_bytes() -> HostMemory {
        let mut memory = HostMemory::default();
        let region = Arc::new(SharedRegion::create("host-test", 8192).unwrap());
        let bytes: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        region.write_bytes(0, &bytes).unwrap();
        memory.map(0x2000, region).unwrap();
        memory
    }

    #[test]
    fn reads_are_answered_in_beats_after_the_latency() {
        let mut memory = HostMemory::default();
        let region = Arc::new(SharedRegion::create("host-test", 4096).unwrap());
        let bytes: Vec<u8> = (0..200u8).collect();
        region.write_bytes(100, &bytes).unwrap();
        memory.map(0x2000, region).unwrap();
        let mut counters = LinkCounters::default();
        let mut dma = DmaResponder::new(HostConfig::IDEAL.with_latency(5));
        dma.read_request(&memory, &mut counters, 10, 0x2000 + 100, 130, 7);
        assert_eq!(dma.pending(), 3);
        assert_eq!(dma.reads_in_flight(), 1);
        assert!(dma.current(14).is_none());
        let first = dma.current(15).unwrap();
        assert_eq!(first.tag, 7);
        assert!(!first.last);
        assert_eq!(first.data[0], u32::from_le_bytes([0, 1, 2, 3]));
        dma.pop();
        dma.current(16).unwrap();
        dma.pop();
        let last = dma.current(17).unwrap();
        assert!(last.last);
        // Byte 128 of the request is the first of the third beat; the rest
        // beyond the request's 130 bytes reads as zero.
        assert_eq!(last.data[0], u32::from_le_bytes([128, 129, 0, 0]));
        dma.pop();
        assert_eq!(dma.reads_in_flight(), 0);
        assert_eq!(counters.dma_read_bytes, 130);
        dma.read_request(&memory, &mut counters, 20, 0x9000, 8, 1);
        assert_eq!(counters.dma_errors, 1);
    }

    /// Drains every read, one beat per cycle from `from`; returns (cycle,
    /// tag, first data word, last) per beat.
    fn drain(dma: &mut DmaResponder, from: u64) -> Vec<(u64, u8, u32, bool)> {
        let mut out = Vec::new();
        let mut now = from;
        while dma.pending() > 0 {
            if let Some(beat) = dma.current(now) {
                out.push((now, beat.tag, beat.data[0], beat.last));
                dma.pop();
            }
            now += 1;
            assert!(now < from + 100_000, "responder stuck");
        }
        out
    }

    #[test]
    fn completions_are_split_reordered_by_seed_and_keep_their_request_order() {
        let memory = region_with_bytes();
        let config = HostConfig {
            read_latency: 20,
            completion_bytes: 128,
            reorder_cycles: 40,
            seed: 99,
            ..HostConfig::default()
        };
        let run = |config: HostConfig| {
            let mut counters = LinkCounters::default();
            let mut dma = DmaResponder::new(config);
            for tag in 0..16u8 {
                dma.read_request(
                    &memory,
                    &mut counters,
                    u64::from(tag),
                    0x2000 + 512 * u64::from(tag),
                    512,
                    tag,
                );
            }
            assert_eq!(dma.reads_in_flight(), 16);
            let beats = drain(&mut dma, 0);
            assert_eq!(dma.reads_in_flight(), 0);
            beats
        };
        let beats = run(config);
        assert_eq!(beats.len(), 16 * 8);
        assert_eq!(beats, run(config), "the same seed, the same order");
        assert_ne!(beats, run(HostConfig { seed: 7, ..config }));
        // Every request's beats arrive in address order, whole completions
        // (two beats) back to back, the last flagged.
        let mut tags_seen = Vec::new();
        for tag in 0..16u8 {
            let mine: Vec<_> = beats.iter().filter(|b| b.1 == tag).collect();
            assert_eq!(mine.len(), 8);
            for (i, beat) in mine.iter().enumerate() {
                let offset = 512 * u32::from(tag) + 64 * i as u32;
                let expected = u32::from_le_bytes([0, 1, 2, 3].map(|k| ((offset + k) % 251) as u8));
                assert_eq!(beat.2, expected, "tag {tag} beat {i}");
                assert_eq!(beat.3, i == 7);
                if i % 2 == 1 {
                    assert_eq!(beat.0, mine[i - 1].0 + 1, "a completion is not interleaved");
                }
            }
            // The trip is 20 +- 20 cycles.
            assert!(mine[0].0 > u64::from(tag), "not before the request");
            tags_seen.push(beats.iter().position(|b| b.1 == tag && b.3).unwrap());
        }
        assert!(
            tags_seen.windows(2).any(|w| w[0] > w[1]),
            "requests overtake each other: {tags_seen:?}"
        );
        // Without jitter: in request order.
        let in_order = run(HostConfig {
            reorder_cycles: 0,
            ..config
        });
        assert!(in_order.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    #[test]
    fn tags_and_bandwidth_are_limited() {
        let memory = region_with_bytes();
        let mut counters = LinkCounters::default();
        let mut dma = DmaResponder::new(HostConfig {
            tags: 2,
            down_bytes_per_cycle: 16,
            up_bytes_per_cycle: 32,
            reorder_cycles: 0,
            read_latency: 3,
            ..HostConfig::default()
        });
        assert!(dma.read_ready());
        dma.read_request(&memory, &mut counters, 0, 0x2000, 256, 0);
        dma.read_request(&memory, &mut counters, 0, 0x2100, 64, 1);
        assert!(!dma.read_ready(), "two tags in flight");
        let beats = drain(&mut dma, 0);
        assert!(dma.read_ready());
        // 16 bytes per cycle: a 64-byte beat every fourth cycle.
        let cycles: Vec<u64> = beats.iter().map(|b| b.0).collect();
        assert_eq!(cycles.len(), 5);
        assert!(cycles[4] - cycles[0] >= 4 * 4 - 1, "{cycles:?}");
        // 32 bytes per cycle upstream: a write every other cycle.
        let mut accepted = 0;
        for now in 100..140 {
            if dma.write_ready(now) {
                dma.write_request(&memory, &mut counters, now, 0x2000, 64, &[0; 16]);
                accepted += 1;
            }
        }
        assert!((19..=21).contains(&accepted), "{accepted}");
    }

    #[test]
    #[should_panic(expected = "reused while in flight")]
    fn a_tag_in_flight_is_not_reused() {
        let memory = region_with_bytes();
        let mut counters = LinkCounters::default();
        let mut dma = DmaResponder::new(HostConfig::default());
        dma.read_request(&memory, &mut counters, 0, 0x2000, 64, 5);
        dma.read_request(&memory, &mut counters, 1, 0x2000, 64, 5);
    }
}
