//! The grouping rule between deciding a batch and delivering it: a sender's
//! frames, each with its destination (a port, or flood), are grouped per
//! destination so that each destination ring is locked once per batch and
//! gets its frames in one pass.
//!
//! The rule: every frame is in exactly one group (its destination's), and
//! within a group the frames keep the batch's order. A destination ring
//! that takes both a port's unicast frames and the flooded ones (RX ring 0)
//! gets the two groups merged back into the batch's order
//! ([`merged`]), so what each ring receives, and in which order, is what a
//! frame-by-frame delivery would give it.

/// Destinations are `u8` keys: ports `0..MAX_PORTS`, then `PORT_FLOOD`
/// (`vale_offload::table`); any `u8` is accepted.
const KEYS: usize = 256;

/// The frames of one batch grouped by destination key: positions in the
/// batch, each group in increasing order. Reused from batch to batch; the
/// work per batch is one pass to count, one to place, and a prefix sum
/// over the keys between the smallest and the largest present (one key
/// when the batch has one destination).
#[derive(Debug)]
pub struct Groups {
    /// Frame positions, group after group.
    order: Vec<u32>,
    /// `order[start[k]..end[k]]` is key `k`'s group, for keys in
    /// `low..=high`; every other key has none.
    start: [u32; KEYS],
    /// See `start`; zero outside `low..=high` (and everywhere when the
    /// last batch was empty), so the next count starts from zero.
    end: [u32; KEYS],
    low: u8,
    high: u8,
    /// Frames in the batch.
    frames: u32,
}

impl Default for Groups {
    fn default() -> Self {
        Self::new()
    }
}

impl Groups {
    /// No groups yet.
    pub const fn new() -> Self {
        Groups {
            order: Vec::new(),
            start: [0; KEYS],
            end: [0; KEYS],
            low: 0,
            high: 0,
            frames: 0,
        }
    }

    /// Zeroes what the last batch left in `end` (see its comment).
    fn reset(&mut self) {
        if self.frames > 0 {
            self.end[usize::from(self.low)..=usize::from(self.high)].fill(0);
        }
    }

    /// Groups a batch of `frames` frames that all go to `key` (the common
    /// case, known from the decisions): one group, no sort.
    pub fn build_one(&mut self, key: u8, frames: u32) {
        self.reset();
        self.order.clear();
        self.order.extend(0..frames);
        self.frames = frames;
        if frames > 0 {
            let k = usize::from(key);
            (self.low, self.high) = (key, key);
            (self.start[k], self.end[k]) = (0, frames);
        }
    }

    /// Groups a batch whose frame `i` goes to `keys[i]` (a stable counting
    /// sort).
    pub fn build(&mut self, keys: impl Iterator<Item = u8> + Clone) {
        self.reset();
        let (mut low, mut high, mut frames) = (u8::MAX, 0u8, 0u32);
        for key in keys.clone() {
            self.end[usize::from(key)] += 1;
            low = low.min(key);
            high = high.max(key);
            frames += 1;
        }
        self.frames = frames;
        if frames == 0 {
            return;
        }
        (self.low, self.high) = (low, high);
        let mut at = 0;
        for k in usize::from(low)..=usize::from(high) {
            let count = self.end[k];
            self.start[k] = at;
            self.end[k] = at;
            at += count;
        }
        self.order.clear();
        self.order.resize(frames as usize, 0);
        for (i, key) in keys.enumerate() {
            let next = &mut self.end[usize::from(key)];
            self.order[*next as usize] = i as u32;
            *next += 1;
        }
    }

    /// The keys that have frames, in increasing order.
    pub fn keys(&self) -> impl Iterator<Item = u8> + '_ {
        let (low, high) = (self.low, self.high);
        (low..=high).filter(move |&k| !self.of(k).is_empty())
    }

    /// Positions of the frames for `key`, in batch order.
    #[inline]
    pub fn of(&self, key: u8) -> &[u32] {
        if self.frames == 0 || key < self.low || key > self.high {
            return &[];
        }
        let k = usize::from(key);
        &self.order[self.start[k] as usize..self.end[k] as usize]
    }
}

/// Two groups (each in batch order) merged into batch order: a port's
/// unicast frames and the flooded ones, for the ring that takes both.
pub fn merged<'a>(a: &'a [u32], b: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x < y => {
                i += 1;
                x
            }
            (_, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => return None,
        };
        Some(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The grouping rule: every frame in exactly one group, its own
        /// destination's, and each group in batch order.
        #[test]
        fn every_frame_in_one_group_in_batch_order(
            keys in prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 7, 200, 253, 254]), 0..300),
        ) {
            let mut groups = Groups::new();
            // Reused: a previous batch must leave nothing behind.
            groups.build([3u8, 3, 254].into_iter());
            groups.build(keys.iter().copied());
            let mut seen = vec![0u32; keys.len()];
            let mut present: Vec<u8> = keys.clone();
            present.sort_unstable();
            present.dedup();
            prop_assert_eq!(groups.keys().collect::<Vec<_>>(), present);
            for key in 0..=255u8 {
                let group = groups.of(key);
                prop_assert!(group.windows(2).all(|w| w[0] < w[1]), "order kept in group {key}");
                for &i in group {
                    prop_assert_eq!(keys[i as usize], key);
                    seen[i as usize] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1), "each frame exactly once: {seen:?}");
        }

        /// A batch with one destination grouped without the sort is the
        /// same grouping.
        #[test]
        fn one_destination_groups_as_the_sort_does(
            key in any::<u8>(),
            frames in 0u32..300,
            before in prop::collection::vec(any::<u8>(), 0..50),
        ) {
            let (mut sorted, mut one) = (Groups::new(), Groups::new());
            one.build(before.iter().copied());
            sorted.build(std::iter::repeat_n(key, frames as usize));
            one.build_one(key, frames);
            for k in 0..=255u8 {
                prop_assert_eq!(sorted.of(k), one.of(k));
            }
            prop_assert_eq!(sorted.keys().collect::<Vec<_>>(), one.keys().collect::<Vec<_>>());
        }

        /// A ring taking two groups gets their union in batch order.
        #[test]
        fn merged_groups_are_in_batch_order(
            keys in prop::collection::vec(0u8..4, 0..200),
            unicast in 0u8..3,
        ) {
            let mut groups = Groups::new();
            groups.build(keys.iter().copied());
            let got: Vec<u32> = merged(groups.of(unicast), groups.of(3)).collect();
            let want: Vec<u32> = (0..keys.len() as u32)
                .filter(|&i| keys[i as usize] == unicast || keys[i as usize] == 3)
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn an_unbuilt_group_is_empty() {
        assert!(Groups::new().of(5).is_empty());
    }
}
