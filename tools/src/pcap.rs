//! Capture files, through the `pcap-file` crate: classic pcap for
//! `pkt-gen -f rx --pcap`, pcapng for `nmdump -w` (one interface block per
//! monitored direction, nanosecond timestamps), and a reader of both for
//! `pkt-gen -f tx --pcap` (replay).
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::{PcapPacket, PcapReader};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::interface_statistics::{
    InterfaceStatisticsBlock, InterfaceStatisticsOption,
};
use pcap_file::pcapng::{Block, PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, PcapError};

/// Largest frame kept whole.
pub const SNAPLEN: u32 = 65535;
/// pcapng's `if_tsresol` for nanoseconds (10^-9).
const NANOSECONDS: u8 = 9;
/// The first four bytes of a pcapng file (its section header block type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

fn io_error(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

fn since_epoch(at: SystemTime) -> Duration {
    at.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Writes a classic pcap stream (microsecond timestamps, Ethernet).
pub struct PcapWriter<W: Write> {
    inner: pcap_file::pcap::PcapWriter<W>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(out: W) -> io::Result<Self> {
        let inner = pcap_file::pcap::PcapWriter::new(out).map_err(io_error)?;
        Ok(Self { inner })
    }

    /// Appends one frame stamped `at`.
    pub fn write_at(&mut self, frame: &[u8], at: SystemTime) -> io::Result<()> {
        let kept = &frame[..frame.len().min(SNAPLEN as usize)];
        let packet = PcapPacket::new(since_epoch(at), frame.len() as u32, kept);
        self.inner.write_packet(&packet).map_err(io_error)?;
        Ok(())
    }

    /// Appends one frame stamped now.
    pub fn write(&mut self, frame: &[u8]) -> io::Result<()> {
        self.write_at(frame, SystemTime::now())
    }

    /// Flushes and returns the sink.
    pub fn finish(self) -> io::Result<W> {
        let mut out = self.inner.into_writer();
        out.flush()?;
        Ok(out)
    }
}

/// The direction of a captured frame, as pcapng's `epb_flags` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received by the monitored port.
    Inbound,
    /// Transmitted by the monitored port.
    Outbound,
}

impl Direction {
    fn epb_flags(self) -> u32 {
        match self {
            Direction::Inbound => 0b01,
            Direction::Outbound => 0b10,
        }
    }
}

/// Writes a pcapng stream: a section, then one interface per monitored
/// direction (nanosecond timestamps), then the frames.
pub struct PcapNgCapture<W: Write> {
    writer: PcapNgWriter<W>,
    directions: Vec<Direction>,
}

impl<W: Write> PcapNgCapture<W> {
    /// Starts a section with one interface per entry of `interfaces`
    /// (name, direction), in that order.
    pub fn new(out: W, interfaces: &[(String, Direction)]) -> io::Result<Self> {
        let mut writer = PcapNgWriter::new(out).map_err(io_error)?;
        for (name, direction) in interfaces {
            let what = match direction {
                Direction::Inbound => "frames the port received",
                Direction::Outbound => "frames the port transmitted",
            };
            let block = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: SNAPLEN,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                    InterfaceDescriptionOption::IfDescription(Cow::Borrowed(what)),
                    InterfaceDescriptionOption::IfTsResol(NANOSECONDS),
                ],
            };
            writer.write_pcapng_block(block).map_err(io_error)?;
        }
        Ok(Self {
            writer,
            directions: interfaces.iter().map(|(_, d)| *d).collect(),
        })
    }

    /// Appends `frame`, seen in `direction` at `at`. A direction without
    /// an interface of its own goes to the first interface.
    pub fn write(&mut self, direction: Direction, frame: &[u8], at: SystemTime) -> io::Result<()> {
        let interface = self
            .directions
            .iter()
            .position(|&d| d == direction)
            .unwrap_or(0);
        let kept = &frame[..frame.len().min(SNAPLEN as usize)];
        let block = EnhancedPacketBlock {
            interface_id: interface as u32,
            timestamp: since_epoch(at),
            original_len: frame.len() as u32,
            data: Cow::Borrowed(kept),
            options: vec![EnhancedPacketOption::Flags(direction.epb_flags())],
        };
        self.writer.write_pcapng_block(block).map_err(io_error)?;
        Ok(())
    }

    /// Ends the capture: an interface statistics block per interface with
    /// the frames received and dropped (`dropped` goes to the first one,
    /// the monitor counts its drops once), then flushes.
    pub fn finish(mut self, received: u64, dropped: u64, at: SystemTime) -> io::Result<W> {
        for interface in 0..self.directions.len() {
            let first = interface == 0;
            let block = InterfaceStatisticsBlock {
                interface_id: interface as u32,
                timestamp: since_epoch(at).as_nanos() as u64,
                options: vec![
                    InterfaceStatisticsOption::IsbIfRecv(if first { received } else { 0 }),
                    InterfaceStatisticsOption::IsbIfDrop(if first { dropped } else { 0 }),
                ],
            };
            self.writer.write_pcapng_block(block).map_err(io_error)?;
        }
        let mut out = self.writer.into_inner();
        out.flush()?;
        Ok(out)
    }
}

/// Why a capture file could not be read for replay.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a pcap or pcapng file: {0}")]
    Format(String),
    #[error("link type {0:?} is not Ethernet: only Ethernet frames can be replayed")]
    LinkType(DataLink),
}

impl From<PcapError> for ReadError {
    fn from(e: PcapError) -> Self {
        match e {
            PcapError::IoError(e) => ReadError::Io(e),
            other => ReadError::Format(other.to_string()),
        }
    }
}

/// Every frame of the classic pcap or pcapng file at `path`, in order.
pub fn read_frames(path: &Path) -> Result<Vec<Vec<u8>>, ReadError> {
    let bytes = std::fs::read(path)?;
    read_frames_from(&bytes[..])
}

/// As [`read_frames`], from bytes in memory.
pub fn read_frames_from(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, ReadError> {
    if bytes.starts_with(&PCAPNG_MAGIC) {
        read_pcapng(&mut bytes)
    } else {
        read_pcap(&mut bytes)
    }
}

fn read_pcap(input: impl Read) -> Result<Vec<Vec<u8>>, ReadError> {
    let mut reader = PcapReader::new(input)?;
    let link = reader.header().datalink;
    if link != DataLink::ETHERNET {
        return Err(ReadError::LinkType(link));
    }
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        frames.push(packet?.data.into_owned());
    }
    Ok(frames)
}

fn read_pcapng(input: impl Read) -> Result<Vec<Vec<u8>>, ReadError> {
    let mut reader = PcapNgReader::new(input)?;
    let mut frames = Vec::new();
    // The link type of each interface of the current section, by id.
    let mut links: Vec<DataLink> = Vec::new();
    while let Some(block) = reader.next_block() {
        let data = match block? {
            Block::SectionHeader(_) => {
                links.clear();
                continue;
            }
            Block::InterfaceDescription(i) => {
                links.push(i.linktype);
                continue;
            }
            Block::EnhancedPacket(p) => {
                let link = links
                    .get(p.interface_id as usize)
                    .copied()
                    .ok_or_else(|| ReadError::Format("a packet names no interface".into()))?;
                if link != DataLink::ETHERNET {
                    return Err(ReadError::LinkType(link));
                }
                p.data.into_owned()
            }
            Block::SimplePacket(p) => p.data.into_owned(),
            _ => continue,
        };
        frames.push(data);
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_pcap_round_trips() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let at = UNIX_EPOCH + Duration::new(7, 250_000_000);
        w.write_at(&[1, 2, 3], at).unwrap();
        w.write_at(&[4; 60], at).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 3 + 16 + 60);
        assert_eq!(
            read_frames_from(&bytes).unwrap(),
            vec![vec![1, 2, 3], vec![4; 60]]
        );
    }

    #[test]
    fn pcapng_keeps_directions_and_nanoseconds() {
        let interfaces = [
            ("vale0:b rx".to_owned(), Direction::Inbound),
            ("vale0:b tx".to_owned(), Direction::Outbound),
        ];
        let mut w = PcapNgCapture::new(Vec::new(), &interfaces).unwrap();
        let at = UNIX_EPOCH + Duration::new(5, 123_456_789);
        w.write(Direction::Outbound, &[9; 64], at).unwrap();
        w.write(Direction::Inbound, &[8; 60], at).unwrap();
        let bytes = w.finish(2, 1, at).unwrap();
        assert_eq!(
            read_frames_from(&bytes).unwrap(),
            vec![vec![9; 64], vec![8; 60]]
        );
        let mut reader = PcapNgReader::new(&bytes[..]).unwrap();
        let mut seen = Vec::new();
        while let Some(block) = reader.next_block() {
            if let Block::EnhancedPacket(p) = block.unwrap() {
                seen.push((p.interface_id, p.timestamp));
            }
        }
        assert_eq!(
            seen,
            vec![
                (1, Duration::new(5, 123_456_789)),
                (0, Duration::new(5, 123_456_789))
            ]
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(matches!(
            read_frames_from(b"hello, this is not a capture file"),
            Err(ReadError::Format(_))
        ));
    }
}
