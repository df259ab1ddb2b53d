//! The header of a libnetmap name (`nmreq_header_decode`): subsystem, port
//! and pipe, up to the first suffix character.

use super::error::{Found, NameError, NameErrorKind};
use super::request::{PipeEnd, PipeRole, Subsystem};
use super::scan::{first_non_ident, is_ident, skip_while};
use super::MAX_NAME_LEN;

/// What a header holds, and where the suffixes start.
pub(super) struct Header {
    pub subsystem: Subsystem,
    pub pipe: Option<PipeEnd>,
    pub end: usize,
}

/// The characters that end the port part of a libnetmap name.
fn is_suffix_start(byte: u8) -> bool {
    matches!(byte, b'-' | b'*' | b'^' | b'/' | b'@')
}

/// Parses the header in `input[start..limit]` (the whole name, or the value
/// of `@share=`); positions in errors are offsets into `input`.
pub(super) fn parse_header(input: &str, start: usize, limit: usize) -> Result<Header, NameError> {
    let bytes = &input.as_bytes()[..limit];
    let text = &bytes[start..];
    let unexpected = |pos: usize, expected| {
        NameError::new(
            pos,
            NameErrorKind::Unexpected {
                found: Found::at(&input[..limit], pos),
                expected,
            },
        )
    };

    // `nr_name` starts after `netmap:` but includes `valeS:`.
    let (port_start, name_start, switch) = if text.starts_with(b"netmap") {
        let colon = start + "netmap".len();
        if bytes.get(colon) != Some(&b':') {
            return Err(unexpected(colon, "':' after 'netmap'"));
        }
        (colon + 1, colon + 1, None)
    } else if text.starts_with(b"vale") {
        let switch_start = start + "vale".len();
        let colon = skip_while(bytes, switch_start, is_ident);
        if bytes.get(colon) != Some(&b':') {
            return Err(unexpected(
                colon,
                "a VALE switch name character (A-Z a-z 0-9 _) or ':'",
            ));
        }
        (colon + 1, start, Some(&input[switch_start..colon]))
    } else {
        return Err(NameError::new(start, NameErrorKind::UnknownSubsystem));
    };

    let end = skip_while(bytes, port_start, |b| !is_suffix_start(b));
    let pipe_sep = (port_start..end)
        .find(|&i| matches!(bytes[i], b'{' | b'}'))
        .unwrap_or(end);
    if let Some(bad) = first_non_ident(bytes, port_start, pipe_sep) {
        return Err(unexpected(
            bad,
            "a port name character (A-Z a-z 0-9 _), a pipe ('{' '}') or a suffix (^ * - / @)",
        ));
    }
    if pipe_sep == port_start {
        return Err(NameError::new(port_start, NameErrorKind::EmptyPortName));
    }
    let pipe = if pipe_sep < end {
        let role = if bytes[pipe_sep] == b'{' {
            PipeRole::Master
        } else {
            PipeRole::Slave
        };
        let id_start = pipe_sep + 1;
        if id_start == end {
            return Err(NameError::new(id_start, NameErrorKind::EmptyPipeId));
        }
        if let Some(bad) = first_non_ident(bytes, id_start, end) {
            return Err(unexpected(
                bad,
                "a pipe id character (A-Z a-z 0-9 _) or a suffix (^ * - / @)",
            ));
        }
        Some(PipeEnd {
            role,
            id: input[id_start..end].to_owned(),
        })
    } else {
        None
    };

    let len = end - name_start;
    if len > MAX_NAME_LEN {
        return Err(NameError::new(
            name_start + MAX_NAME_LEN,
            NameErrorKind::NameTooLong {
                len,
                max: MAX_NAME_LEN,
            },
        ));
    }

    let port = input[port_start..pipe_sep].to_owned();
    let subsystem = match switch {
        None => Subsystem::Netmap { ifname: port },
        Some(switch) => Subsystem::Vale {
            switch: switch.to_owned(),
            port,
        },
    };
    Ok(Header {
        subsystem,
        pipe,
        end,
    })
}
