//! The older grammar of `nm_open` (netmap_user.h, `nm_parse_one`), for names
//! written for applications that predate libnetmap. Where it differs:
//!
//! - pipes are `{N` / `}N` with a decimal N (digits may be omitted: 0), and
//!   replace the ring mode instead of extending the port name;
//! - `^N` does not exist;
//! - `-` and `{`/`}` followed by no digit mean ring/pipe 0 (but not at the
//!   very end of the name, where nm_open reports an early end);
//! - a NIC name is any run of characters but the suffix characters, `:`
//!   and whitespace (Linux names such as `eth0.100` are accepted);
//! - one `@` only: `@N`, or `@` followed by a port whose memory to share, or
//!   by a file to map as external memory (everything up to the end);
//! - names are limited to 15 bytes (the legacy `nmreq` has IFNAMSIZ bytes).

use super::error::{Found, NameError, NameErrorKind};
use super::request::{ExtmemOption, PipeEnd, PipeRole, PortName, RingMode};
use super::scan::{first_non_ident, is_ident, mem_id, number, ring_id, skip_while};
use super::MAX_LEGACY_NAME_LEN;

/// Parses a name in the grammar of the legacy `nm_open`.
///
/// The result is the same typed request libnetmap names produce; its
/// `Display` writes libnetmap syntax (`{N` becomes a pipe named "N").
pub fn parse_legacy(name: &str) -> Result<PortName, NameError> {
    parse(name, true)
}

/// What a legacy ring suffix selects.
#[derive(Clone, Copy)]
enum Numbered {
    Ring,
    Pipe(PipeRole),
}

#[derive(Clone, Copy)]
enum State {
    Start,
    Number(Numbered),
    SuffixDone,
    Flags,
    FlagsDone,
    MemId,
}

fn is_suffix_start(byte: u8) -> bool {
    matches!(byte, b'-' | b'*' | b'^' | b'{' | b'}' | b'/' | b'@')
}

/// A NIC name character in the legacy grammar.
fn is_ifname_char(c: char) -> bool {
    c != ':' && !c.is_whitespace() && !c.is_control()
}

fn parse(input: &str, memory_allowed: bool) -> Result<PortName, NameError> {
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

    let (port_start, name_start, switch) = if input.starts_with("netmap:") {
        (7, 7, None)
    } else if input.starts_with("vale") {
        let colon = skip_while(bytes, 4, is_ident);
        if bytes.get(colon) != Some(&b':') {
            return Err(unexpected(
                colon,
                "a VALE switch name character (A-Z a-z 0-9 _) or ':'",
            ));
        }
        (colon + 1, 0, Some(&input[4..colon]))
    } else {
        return Err(NameError::new(0, NameErrorKind::UnknownSubsystem));
    };
    let end = skip_while(bytes, port_start, |b| !is_suffix_start(b));
    let bad_char = match switch {
        None => input[port_start..end]
            .char_indices()
            .find(|&(_, c)| !is_ifname_char(c))
            .map(|(offset, _)| (port_start + offset, "an interface name character")),
        Some(_) => first_non_ident(bytes, port_start, end)
            .map(|pos| (pos, "a port name character (A-Z a-z 0-9 _)")),
    };
    if let Some((pos, expected)) = bad_char {
        return Err(unexpected(pos, expected));
    }
    if end == port_start {
        return Err(NameError::new(port_start, NameErrorKind::EmptyPortName));
    }
    if end - name_start > MAX_LEGACY_NAME_LEN {
        // Point at the character holding the first byte past the limit.
        let mut first_over = name_start + MAX_LEGACY_NAME_LEN;
        while !input.is_char_boundary(first_over) {
            first_over -= 1;
        }
        return Err(NameError::new(
            first_over,
            NameErrorKind::NameTooLong {
                len: end - name_start,
                max: MAX_LEGACY_NAME_LEN,
            },
        ));
    }
    let port = input[port_start..end].to_owned();
    let mut name = match switch {
        None => PortName::netmap(port),
        Some(switch) => PortName::vale(switch, port),
    };

    let mut state = State::Start;
    let mut pos = end;
    while pos < bytes.len() {
        let byte = bytes[pos];
        match state {
            State::Start => {
                state = match byte {
                    b'^' => {
                        name.mode = RingMode::Sw;
                        State::SuffixDone
                    }
                    b'*' => {
                        name.mode = RingMode::NicSw;
                        State::SuffixDone
                    }
                    b'-' => State::Number(Numbered::Ring),
                    b'{' => State::Number(Numbered::Pipe(PipeRole::Master)),
                    b'}' => State::Number(Numbered::Pipe(PipeRole::Slave)),
                    b'/' => State::Flags,
                    b'@' => State::MemId,
                    _ => return Err(unexpected(pos, "a suffix (^ * - { } / @)")),
                };
                pos += 1;
            }
            State::Number(what) => {
                // nm_open reads the number with strtol: no digits is 0.
                let (value, digits_end) = number(bytes, pos).unwrap_or((0, pos));
                let value = ring_id(value, pos)?;
                match what {
                    Numbered::Ring => name.mode = RingMode::OneNic(value),
                    Numbered::Pipe(role) => {
                        name.pipe = Some(PipeEnd {
                            role,
                            id: value.to_string(),
                        })
                    }
                }
                pos = digits_end;
                state = State::SuffixDone;
            }
            State::SuffixDone => {
                state = match byte {
                    b'/' => State::Flags,
                    b'@' => State::MemId,
                    _ => return Err(unexpected(pos, "'/' (flags) or '@' (memory)")),
                };
                pos += 1;
            }
            State::Flags | State::FlagsDone => {
                if byte == b'@' {
                    state = State::MemId;
                } else if name.flags.set_letter(byte) {
                    state = State::FlagsDone;
                } else {
                    return Err(unexpected(pos, "a flag (x z t r R T) or '@'"));
                }
                pos += 1;
            }
            State::MemId => {
                let at = pos - 1;
                if !memory_allowed {
                    return Err(NameError::new(at, NameErrorKind::SecondMemId));
                }
                match number(bytes, pos) {
                    Some((value, digits_end)) => {
                        let mem_id = mem_id(value, pos)?;
                        if name.mem_id.is_some() {
                            return Err(NameError::new(at, NameErrorKind::SecondMemId));
                        }
                        name.mem_id = Some(mem_id);
                        pos = digits_end;
                        state = State::SuffixDone;
                    }
                    None => {
                        if name.mem_id.is_some() {
                            return Err(NameError::new(at, NameErrorKind::SecondMemId));
                        }
                        set_memory(&mut name, &input[pos..]);
                        return Ok(name);
                    }
                }
            }
        }
    }
    match state {
        State::Start | State::SuffixDone | State::FlagsDone => Ok(name),
        State::Number(_) => Err(unexpected(pos, "a number")),
        State::Flags => Err(unexpected(pos, "a flag (x z t r R T) or '@'")),
        State::MemId => Err(unexpected(pos, "a memory id, port or file after '@'")),
    }
}

/// `@SPEC` of nm_open: the memory of port SPEC if SPEC is a port name, else
/// the file SPEC as external memory.
fn set_memory(name: &mut PortName, spec: &str) {
    match parse(spec, false) {
        Ok(port) => {
            let mut share = port.subsystem.to_string();
            if let Some(pipe) = &port.pipe {
                share.push(pipe.role.symbol());
                share.push_str(&pipe.id);
            }
            name.options.share = Some(share);
        }
        Err(_) => name.options.extmem = Some(ExtmemOption::file(spec)),
    }
}
