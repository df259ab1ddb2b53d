//! Several senders on different cores into one switch: two VALE ports
//! sending unicast to two receiving ports of the same switch, beside two
//! independent one-copy rings (two producers, two consumers). Each sender
//! shares its core with the other pair's receiver (this VM has two), so
//! both flows cross cores and the switch's shared state (the MAC table,
//! the counters) is used from both cores at once: what scales, and what a
//! global lock would serialise, shows in the ratio.

use serde_json::{json, Value};

use super::{mpps, strings, Bench, Rates, RING_SLOTS};
use crate::frame::{format_mac, mac};
use crate::procs::{run_measurement, BenchError, ChildSpec};
use crate::spsc::{Geometry, SpscRing};
use crate::stats::{median, ratios, series, show};

use crate::ctl::TempFile;

/// Sender/receiver pairs of the scaling row.
pub(super) const PAIRS: usize = 2;

impl Bench {
    /// `--cpu` of pair `pair`'s sender (`sender`) or receiver: sender i on
    /// CPU i, its receiver on the other one.
    fn pair_cpu(&self, pair: usize, sender: bool) -> Vec<String> {
        if !self.plan.pin {
            return Vec::new();
        }
        let cpu = if sender { pair % 2 } else { (pair + 1) % 2 };
        strings(&["--cpu", &cpu.to_string()])
    }

    /// `PAIRS` VALE senders (`a0`, `a1`, ...) into one switch, each unicast
    /// (learned) to its own receiving port (`r0`, ...) in its own process.
    fn vale_pairs_once(&mut self, batch: u32) -> Result<Rates, BenchError> {
        let switch = format!("vale{}", self.unique());
        let _files = super::DomainFiles::new(&switch);
        let (file, _ctl) = self.control()?;
        let bufs = ((2 * PAIRS + 1) * 2 * RING_SLOTS + 4096).max(65536);
        let env = vec![("NETMAP_RS_BUFS".to_owned(), bufs.to_string())];
        let (mut receivers, mut senders) = (Vec::new(), Vec::new());
        for pair in 0..PAIRS {
            let (tx_mac, rx_mac) = (mac(10 + pair as u8), mac(20 + pair as u8));
            let mut args = strings(&[
                "port-rx",
                "--ports",
                &format!("{switch}:r{pair}"),
                "--reply-to",
                &format_mac(tx_mac),
                "--src",
                &format_mac(rx_mac),
            ]);
            args.extend(self.common(&file, batch));
            args.extend(self.pair_cpu(pair, false));
            let mut spec = ChildSpec::new(&format!("vale rx {pair}"), args);
            spec.env = env.clone();
            receivers.push(spec);
            let mut args = strings(&[
                "port-tx",
                "--port",
                &format!("{switch}:a{pair}"),
                "--dst",
                &format_mac(rx_mac),
                "--src",
                &format_mac(tx_mac),
                "--len",
                "60",
                "--receivers",
                &PAIRS.to_string(),
                "--learn",
            ]);
            args.extend(self.common(&file, batch));
            args.extend(self.pair_cpu(pair, true));
            let mut spec = ChildSpec::new(&format!("vale tx {pair}"), args);
            spec.env = env.clone();
            senders.push(spec);
        }
        let (r, t) = run_measurement(&receivers, &senders)?;
        Ok(Rates {
            per_receiver: r.iter().map(mpps).collect(),
            sender: t.iter().map(mpps).sum(),
        })
    }

    /// `PAIRS` independent one-copy rings, each with its own producer and
    /// consumer process, pinned as the VALE pairs are.
    fn ring_pairs_once(&mut self, batch: u32) -> Result<Rates, BenchError> {
        let (file, _ctl) = self.control()?;
        let geometry = Geometry {
            slots: RING_SLOTS,
            stride: self.plan.stride,
        };
        let (mut receivers, mut senders, mut files) = (Vec::new(), Vec::new(), Vec::new());
        for pair in 0..PAIRS {
            let f = TempFile::new("ring");
            SpscRing::create(f.path(), geometry).map_err(|e| BenchError::Setup(e.to_string()))?;
            let path = f.path().display().to_string();
            files.push(f);
            let mut args = strings(&["ring-rx", "--shm", &path]);
            args.extend(self.common(&file, batch));
            args.extend(self.pair_cpu(pair, false));
            receivers.push(ChildSpec::new(&format!("ring rx {pair}"), args));
            let mut args = strings(&[
                "ring-tx",
                "--shm",
                &path,
                "--len",
                "60",
                "--receivers",
                &PAIRS.to_string(),
                "--copy",
            ]);
            args.extend(self.common(&file, batch));
            args.extend(self.pair_cpu(pair, true));
            senders.push(ChildSpec::new(&format!("ring tx {pair}"), args));
        }
        let (r, t) = run_measurement(&receivers, &senders)?;
        Ok(Rates {
            per_receiver: r.iter().map(mpps).collect(),
            sender: t.iter().map(mpps).sum(),
        })
    }

    /// The scaling row: `PAIRS` senders -> `PAIRS` receivers through one
    /// switch vs `PAIRS` one-copy rings, total Mpps.
    pub fn vale_scaling(&mut self) -> Value {
        let batch = self.plan.batch;
        let rounds = self.plan.rounds;
        self.progress(&format!(
            "vale scaling: {rounds} rounds of {PAIRS} senders -> {PAIRS} receivers, one switch / {PAIRS} one-copy rings"
        ));
        let r = self.alternate(
            "vale scaling",
            rounds,
            &mut [
                &mut |b: &mut Self| b.vale_pairs_once(batch).map(|r| r.total()),
                &mut |b: &mut Self| b.ring_pairs_once(batch).map(|r| r.total()),
            ],
        );
        let ratio = ratios(&r[0], &r[1]);
        self.say(&format!(
            "VALE {PAIRS} senders -> {PAIRS} receivers, one switch, 60-byte frames, batch {batch}: ours {} Mpps in total, {PAIRS} one-copy rings {} Mpps, ratio {}",
            show(median(&r[0])),
            show(median(&r[1])),
            show(median(&ratio)),
        ));
        json!({
            "pairs": PAIRS,
            "batch": batch,
            "frame_len": 60,
            "ours_mpps_total": series(&r[0]),
            "one_copy_rings_mpps_total": series(&r[1]),
            "ratio": series(&ratio),
        })
    }
}
