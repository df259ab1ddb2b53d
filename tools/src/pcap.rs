//! A plain pcap writer (the classic format: microsecond timestamps,
//! link type Ethernet), so captures open in tshark and Wireshark.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Magic number of a microsecond-resolution pcap file.
pub const MAGIC: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest frame kept whole.
pub const SNAPLEN: u32 = 65535;

/// Writes a pcap stream to `out`.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header (version 2.4, host byte order as the
    /// magic tells readers).
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC.to_ne_bytes());
        header.extend_from_slice(&2u16.to_ne_bytes());
        header.extend_from_slice(&4u16.to_ne_bytes());
        header.extend_from_slice(&0i32.to_ne_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        header.extend_from_slice(&SNAPLEN.to_ne_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        out.write_all(&header)?;
        Ok(Self { out })
    }

    /// Appends one frame stamped `at`.
    pub fn write_at(&mut self, frame: &[u8], at: SystemTime) -> io::Result<()> {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let kept = frame.len().min(SNAPLEN as usize);
        let mut record = Vec::with_capacity(16);
        record.extend_from_slice(&(since.as_secs() as u32).to_ne_bytes());
        record.extend_from_slice(&since.subsec_micros().to_ne_bytes());
        record.extend_from_slice(&(kept as u32).to_ne_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_ne_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&frame[..kept])
    }

    /// Appends one frame stamped now.
    pub fn write(&mut self, frame: &[u8]) -> io::Result<()> {
        self.write_at(frame, SystemTime::now())
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn writes_the_classic_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let at = UNIX_EPOCH + Duration::new(7, 250_000_000);
        w.write_at(&[1, 2, 3], at).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 3);
        let u32_at = |o: usize| u32::from_ne_bytes(bytes[o..o + 4].try_into().unwrap());
        assert_eq!(u32_at(0), MAGIC);
        assert_eq!(u32_at(16), SNAPLEN);
        assert_eq!(u32_at(20), LINKTYPE_ETHERNET);
        assert_eq!(u32_at(24), 7);
        assert_eq!(u32_at(28), 250_000);
        assert_eq!((u32_at(32), u32_at(36)), (3, 3));
        assert_eq!(&bytes[40..], &[1, 2, 3]);
    }
}
