//! netmap pkt-gen's report formats: the per-interval line and the final
//! summary, so scripts written for netmap's output keep working.
#![forbid(unsafe_code)]

/// Bits of framing per packet on the wire beyond the frame bytes counted:
/// preamble (8), FCS (4) and inter-frame gap (12), as netmap's "raw" rate.
pub const FRAMING_BITS: f64 = 24.0 * 8.0;

/// netmap's `norm()`: three decimals and a K/M/G/T unit prefix
/// (`"18.657 M"`; below a thousand the prefix is empty: `"999.000 "`).
pub fn norm(mut value: f64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.3} {}", UNITS[unit])
}

/// Packets, bytes and syncs counted over some time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub pkts: u64,
    pub bytes: u64,
    /// Syncs (netmap's "events": each txsync/rxsync or poll that moved
    /// packets).
    pub events: u64,
}

impl Totals {
    /// The change since `earlier`.
    pub fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            pkts: self.pkts - earlier.pkts,
            bytes: self.bytes - earlier.bytes,
            events: self.events - earlier.events,
        }
    }

    /// Packets per event.
    pub fn avg_batch(&self) -> f64 {
        if self.events == 0 {
            0.0
        } else {
            self.pkts as f64 / self.events as f64
        }
    }
}

/// The per-interval line, e.g. `18.657 Mpps (18.676 Mpkts 9.553 Gbps in
/// 1001024 usec) 493.24 avg_batch 99999 min_space`: the packet rate, the
/// packets and the bit rate of the interval, its length, packets per event
/// and the smallest ring space seen.
pub fn interval_line(delta: &Totals, usec: u64, min_space: u32) -> String {
    let usec = usec.max(1);
    let pps = delta.pkts as f64 * 1e6 / usec as f64;
    let bps = delta.bytes as f64 * 8.0 * 1e6 / usec as f64;
    format!(
        "{}pps ({}pkts {}bps in {usec} usec) {:.2} avg_batch {min_space} min_space",
        norm(pps),
        norm(delta.pkts as f64),
        norm(bps),
        delta.avg_batch()
    )
}

/// The final summary: `Sent N packets M bytes K events L bytes each in T
/// seconds.` and `Speed: ... Average batch: ... pkts` (or `Sent nothing.`).
/// `what` is `Sent` or `Received`.
pub fn summary(what: &str, totals: &Totals, seconds: f64) -> String {
    if totals.pkts == 0 {
        return format!("{what} nothing.");
    }
    let size = totals.bytes / totals.pkts;
    let seconds_shown = seconds;
    let seconds = if seconds <= 0.0 { 1e-6 } else { seconds };
    let pps = totals.pkts as f64 / seconds;
    let bw = 8.0 * totals.bytes as f64 / seconds;
    let raw = (8.0 * totals.bytes as f64 + totals.pkts as f64 * FRAMING_BITS) / seconds;
    format!(
        "{what} {} packets {} bytes {} events {size} bytes each in {seconds_shown:.2} seconds.\n\
         Speed: {}pps Bandwidth: {}bps (raw {}bps). Average batch: {:.2} pkts",
        totals.pkts,
        totals.bytes,
        totals.events,
        norm(pps),
        norm(bw),
        norm(raw),
        totals.avg_batch()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_scales_like_netmap() {
        assert_eq!(norm(18_657_000.0), "18.657 M");
        assert_eq!(norm(999.0), "999.000 ");
        assert_eq!(norm(9_553_000_000.0), "9.553 G");
        assert_eq!(norm(2.5e16), "25000.000 T");
    }

    #[test]
    fn interval_line_matches_netmaps_shape() {
        let delta = Totals {
            pkts: 18_676_000,
            bytes: 18_676_000 * 64,
            events: 37_864,
        };
        let line = interval_line(&delta, 1_001_024, 99999);
        // 18.676e6 * 512 bits / 1.001024 s = 9.5522 Gbps.
        assert_eq!(
            line,
            "18.657 Mpps (18.676 Mpkts 9.552 Gbps in 1001024 usec) 493.24 avg_batch 99999 min_space"
        );
    }

    #[test]
    fn summary_reports_sizes_rates_and_batch() {
        let t = Totals {
            pkts: 1000,
            bytes: 60_000,
            events: 10,
        };
        let s = summary("Sent", &t, 0.5);
        assert_eq!(
            s,
            "Sent 1000 packets 60000 bytes 10 events 60 bytes each in 0.50 seconds.\n\
             Speed: 2.000 Kpps Bandwidth: 960.000 Kbps (raw 1.344 Mbps). Average batch: 100.00 pkts"
        );
        assert_eq!(
            summary("Received", &Totals::default(), 1.0),
            "Received nothing."
        );
    }
}
