//! Reading structured values out of fuzz bytes: every read succeeds (an
//! exhausted input reads as zeros), so any byte string is a valid input
//! and mutations keep most of an input's meaning.

/// A cursor over one fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    /// True while unread bytes remain.
    pub fn more(&self) -> bool {
        self.at < self.data.len()
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    /// A value below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            self.u32() % n
        }
    }

    /// A u32 biased to the edges of a range of `n` values: inside it, just
    /// past it, or anything.
    pub fn index_like(&mut self, n: u32) -> u32 {
        match self.u8() % 4 {
            0 | 1 => self.below(n.max(1)),
            2 => n.wrapping_add(u32::from(self.u8() % 4)).wrapping_sub(1),
            _ => self.u32(),
        }
    }
}
