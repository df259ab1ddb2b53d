//! The suffixes of a libnetmap name (`nmreq_register_decode`): ring mode,
//! flags and memory id, up to the first option.

use super::error::{Found, NameError, NameErrorKind};
use super::request::{RegFlags, RingMode};
use super::scan::{mem_id, number, ring_id};

/// The register part of a name, and where its options start (`None` when
/// there are none).
pub(super) struct Register {
    pub mode: RingMode,
    pub flags: RegFlags,
    pub mem_id: Option<u16>,
    pub options_at: Option<usize>,
}

/// Where the state machine stands; the names follow libnetmap's.
#[derive(Clone, Copy)]
enum State {
    /// Right after the port name.
    Start,
    /// After `^`: a digit makes it `^N`.
    OneSw,
    /// After `-` or `^`: a ring number must follow.
    RingNumber,
    /// After a complete ring suffix or `@N`: only `/` or `@` may follow.
    SuffixDone,
    /// After `/`: at least one flag or `@`.
    Flags,
    /// After a flag: more flags, `@`, or the end.
    FlagsDone,
    /// After `@`: a memory id, or the start of the options.
    MemId,
}

/// Parses the suffixes of `input` from `start` (the end of the header).
pub(super) fn parse_register(input: &str, start: usize) -> Result<Register, NameError> {
    let bytes = input.as_bytes();
    let unexpected = |pos: usize, expected| {
        NameError::new(
            pos,
            NameErrorKind::Unexpected {
                found: Found::at(input, pos),
                expected,
            },
        )
    };
    let mut register = Register {
        mode: RingMode::AllNic,
        flags: RegFlags::default(),
        mem_id: None,
        options_at: None,
    };
    let mut state = State::Start;
    let mut pos = start;
    while pos < bytes.len() {
        let byte = bytes[pos];
        match state {
            State::Start => {
                state = match byte {
                    b'^' => {
                        register.mode = RingMode::Sw;
                        State::OneSw
                    }
                    b'*' => {
                        register.mode = RingMode::NicSw;
                        State::SuffixDone
                    }
                    b'-' => {
                        register.mode = RingMode::OneNic(0);
                        State::RingNumber
                    }
                    b'/' => State::Flags,
                    b'@' => State::MemId,
                    _ => return Err(unexpected(pos, "a suffix (^ * - / @)")),
                };
                pos += 1;
            }
            State::OneSw => {
                if byte.is_ascii_digit() {
                    register.mode = RingMode::OneSw(0);
                    state = State::RingNumber;
                } else {
                    state = State::SuffixDone;
                }
            }
            State::RingNumber => {
                let Some((ring, end)) = number(bytes, pos) else {
                    return Err(unexpected(pos, "a ring number"));
                };
                let ring = ring_id(ring, pos)?;
                register.mode = match register.mode {
                    RingMode::OneSw(_) => RingMode::OneSw(ring),
                    _ => RingMode::OneNic(ring),
                };
                pos = end;
                state = State::SuffixDone;
            }
            State::SuffixDone => {
                state = match byte {
                    b'/' => State::Flags,
                    b'@' => State::MemId,
                    _ => return Err(unexpected(pos, "'/' (flags) or '@' (memory id, options)")),
                };
                pos += 1;
            }
            State::Flags | State::FlagsDone => {
                if byte == b'@' {
                    state = State::MemId;
                } else if register.flags.set_letter(byte) {
                    state = State::FlagsDone;
                } else {
                    return Err(unexpected(pos, "a flag (x z t r R T) or '@'"));
                }
                pos += 1;
            }
            State::MemId => {
                let at = pos - 1;
                let Some((value, end)) = number(bytes, pos) else {
                    register.options_at = Some(at);
                    return Ok(register);
                };
                let mem_id = mem_id(value, pos)?;
                match register.mem_id {
                    Some(first) if first != mem_id => {
                        return Err(NameError::new(
                            at,
                            NameErrorKind::MemIdDisagrees {
                                first,
                                second: mem_id,
                            },
                        ))
                    }
                    _ => register.mem_id = Some(mem_id),
                }
                pos = end;
                state = State::SuffixDone;
            }
        }
    }
    match state {
        State::Start | State::OneSw | State::SuffixDone | State::FlagsDone => Ok(register),
        State::RingNumber => Err(unexpected(pos, "a ring number")),
        State::Flags => Err(unexpected(pos, "a flag (x z t r R T) or '@'")),
        State::MemId => Err(unexpected(pos, "a memory id or an option after '@'")),
    }
}
