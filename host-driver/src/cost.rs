//! The PCIe cost model of `docs/performance.md` ("PCIe cost model"): from
//! what the simulator counted per packet (MMIO, BAR2 and DMA traffic, device
//! cycles), the packet rate a board on a PCIe Gen3 x16 link would reach,
//! and which resource limits it.
#![forbid(unsafe_code)]

use crate::device::DeviceCounters;

/// Link and platform figures the model uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    /// Payload bandwidth per direction in bytes/s: Gen3 x16 is 8 GT/s x 16
    /// lanes x 128/130 encoding = 15.75 GB/s.
    pub bytes_per_second: f64,
    /// Per-TLP overhead on the wire: framing (2), sequence (2), 3-4 DW
    /// header (12-16), LCRC (4), plus a share of ACK and flow-control
    /// DLLPs: 24 bytes.
    pub tlp_overhead: f64,
    /// Largest write payload per TLP (Max Payload Size).
    pub max_payload: f64,
    /// Read completions are split at this boundary (Read Completion
    /// Boundary as root complexes use it).
    pub completion_size: f64,
    /// Write-combining buffer: BAR2 stores leave in TLPs of this size.
    pub wc_burst: f64,
    /// A CPU load from a BAR (MMIO read): a full round trip, ~1 us.
    pub mmio_read_seconds: f64,
    /// Round trip of a device DMA read to host memory.
    pub dma_read_latency_seconds: f64,
    /// DMA reads the device keeps in flight (tags).
    pub dma_read_tags: f64,
    /// Device clock.
    pub clock_hz: f64,
}

impl Default for LinkModel {
    fn default() -> Self {
        Self {
            bytes_per_second: 8e9 * 16.0 * 128.0 / 130.0 / 8.0,
            tlp_overhead: 24.0,
            max_payload: 256.0,
            completion_size: 64.0,
            wc_burst: 64.0,
            mmio_read_seconds: 1e-6,
            dma_read_latency_seconds: 0.8e-6,
            dma_read_tags: 32.0,
            clock_hz: 250e6,
        }
    }
}

/// Traffic per packet, from the simulator's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PerPacket {
    pub cycles: f64,
    pub mmio_reads: f64,
    pub mmio_writes: f64,
    pub bar2_write_bytes: f64,
    pub bar2_read_bytes: f64,
    pub dma_read_requests: f64,
    pub dma_read_bytes: f64,
    pub dma_write_requests: f64,
    pub dma_write_bytes: f64,
}

impl PerPacket {
    /// The counters of a run divided by the packets it moved.
    pub fn from_counters(c: &DeviceCounters, packets: u64) -> Self {
        let n = packets.max(1) as f64;
        Self {
            cycles: c.cycles as f64 / n,
            mmio_reads: c.mmio_reads as f64 / n,
            mmio_writes: c.mmio_writes as f64 / n,
            bar2_write_bytes: c.bar2_write_bytes as f64 / n,
            bar2_read_bytes: c.bar2_read_bytes as f64 / n,
            dma_read_requests: c.dma_read_requests as f64 / n,
            dma_read_bytes: c.dma_read_bytes as f64 / n,
            dma_write_requests: c.dma_write_requests as f64 / n,
            dma_write_bytes: c.dma_write_bytes as f64 / n,
        }
    }
}

/// What the model predicts for one workload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Wire bytes per packet, host to device and device to host.
    pub downstream_bytes: f64,
    pub upstream_bytes: f64,
    /// Packet-rate ceilings (Mpps) of each resource.
    pub device_mpps: f64,
    pub link_mpps: f64,
    pub dma_tags_mpps: f64,
    pub mmio_read_mpps: f64,
    /// The lowest ceiling, and its name.
    pub mpps: f64,
    pub limit: &'static str,
}

impl LinkModel {
    /// TLPs needed for `bytes` in pieces of at most `piece`, over `requests`.
    fn tlps(bytes: f64, requests: f64, piece: f64) -> f64 {
        if requests <= 0.0 {
            return 0.0;
        }
        requests * (bytes / requests / piece).ceil().max(1.0)
    }

    /// The board's packet rate for traffic `p`.
    pub fn predict(&self, p: &PerPacket) -> Prediction {
        let o = self.tlp_overhead;
        // Host to device: BAR2 stores (write-combined), doorbells and
        // other register writes, DMA read completions.
        let bar2_tlps = (p.bar2_write_bytes / self.wc_burst).ceil();
        let completions = Self::tlps(p.dma_read_bytes, p.dma_read_requests, self.completion_size);
        let downstream = p.bar2_write_bytes
            + bar2_tlps * o
            + p.mmio_writes * (4.0 + o)
            + p.dma_read_bytes
            + completions * o;
        // Device to host: DMA writes, DMA read requests (header only), and
        // the completions of MMIO reads.
        let writes = Self::tlps(p.dma_write_bytes, p.dma_write_requests, self.max_payload);
        let upstream = p.dma_write_bytes
            + writes * o
            + p.dma_read_requests * o
            + (p.mmio_reads + p.bar2_read_bytes / 8.0) * (8.0 + o);
        let per_second = |seconds_per_packet: f64| {
            if seconds_per_packet > 0.0 {
                1e-6 / seconds_per_packet
            } else {
                f64::INFINITY
            }
        };
        let device_mpps = per_second(p.cycles / self.clock_hz);
        let link_mpps = per_second(downstream.max(upstream) / self.bytes_per_second);
        let dma_tags_mpps =
            per_second(p.dma_read_requests * self.dma_read_latency_seconds / self.dma_read_tags);
        // Each CPU load from a BAR stalls for a round trip; BAR2 reads go 8
        // bytes per load.
        let mmio_read_mpps =
            per_second((p.mmio_reads + p.bar2_read_bytes / 8.0) * self.mmio_read_seconds);
        let ceilings = [
            (device_mpps, "device cycles"),
            (link_mpps, "link bandwidth"),
            (dma_tags_mpps, "DMA read tags"),
            (mmio_read_mpps, "MMIO reads"),
        ];
        let (mpps, limit) =
            ceilings.into_iter().fold(
                (f64::INFINITY, "none"),
                |best, c| if c.0 < best.0 { c } else { best },
            );
        Prediction {
            downstream_bytes: downstream,
            upstream_bytes: upstream,
            device_mpps,
            link_mpps,
            dma_tags_mpps,
            mmio_read_mpps,
            mpps,
            limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen3_x16_carries_15_75_gb_per_second() {
        let m = LinkModel::default();
        assert!((m.bytes_per_second - 15.754e9).abs() < 0.01e9);
    }

    #[test]
    fn one_mmio_read_per_packet_caps_the_board_at_one_mpps() {
        let p = PerPacket {
            cycles: 2.0,
            mmio_reads: 1.0,
            ..Default::default()
        };
        let pred = LinkModel::default().predict(&p);
        assert!((pred.mpps - 1.0).abs() < 1e-9);
        assert_eq!(pred.limit, "MMIO reads");
    }

    #[test]
    fn small_frames_are_bound_by_read_latency_large_by_the_link() {
        let m = LinkModel::default();
        // 60-byte frame: 16 B descriptor, read 64 B, write 64 B + 16 B slot.
        let small = PerPacket {
            cycles: 4.0,
            mmio_writes: 1.0 / 64.0,
            bar2_write_bytes: 16.0,
            dma_read_requests: 1.0,
            dma_read_bytes: 64.0,
            dma_write_requests: 2.0,
            dma_write_bytes: 80.0,
            ..Default::default()
        };
        let pred = m.predict(&small);
        // One payload read per frame, 0.8 us each, 32 in flight: 40 Mpps,
        // below the 62.5 Mpps of 4 cycles at 250 MHz.
        assert_eq!(pred.limit, "DMA read tags");
        assert!((pred.mpps - 40.0).abs() < 1e-9);
        assert!((pred.device_mpps - 62.5).abs() < 1e-9);
        assert!(pred.link_mpps > 100.0);
        // 1514-byte frame: the payload dominates; the link saturates first.
        let large = PerPacket {
            cycles: 4.0,
            dma_read_bytes: 1536.0,
            dma_read_requests: 3.0,
            dma_write_bytes: 1552.0,
            dma_write_requests: 7.0,
            bar2_write_bytes: 16.0,
            ..small
        };
        let pred = m.predict(&large);
        assert_eq!(pred.limit, "link bandwidth");
        assert!(pred.mpps > 6.0 && pred.mpps < 9.0, "{}", pred.mpps);
    }
}
