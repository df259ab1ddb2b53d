//! The `@` options of a libnetmap name (`nmreq_options_decode` and the
//! option parsers of nmport.c): `@conf:`, `@share=`, `@extmem:`, `@offset:`.
//!
//! An option is `@NAME:key=value,key=value` or `@NAME=value`, the latter
//! setting the option's default key to everything up to the next `@`.
//! In key names `-` and `_` are the same character.

use super::error::{Found, NameError, NameErrorKind};
use super::header::parse_header;
use super::request::{ConfOption, ExtmemOption, OffsetOption, PortOptions};

/// The options libnetmap knows.
#[derive(Clone, Copy)]
enum OptionKind {
    Conf,
    Share,
    Extmem,
    Offset,
}

/// The grammar of one option: its keys (canonical spelling) and which of
/// them `@NAME=value` sets. That key is also mandatory, as in libnetmap.
struct OptionSpec {
    kind: OptionKind,
    name: &'static str,
    keys: &'static [&'static str],
    default_key: Option<usize>,
}

const CONF: OptionSpec = OptionSpec {
    kind: OptionKind::Conf,
    name: "conf",
    keys: &[
        "rings",
        "host-rings",
        "slots",
        "tx-rings",
        "rx-rings",
        "host-tx-rings",
        "host-rx-rings",
        "tx-slots",
        "rx-slots",
    ],
    default_key: None,
};

const SHARE: OptionSpec = OptionSpec {
    kind: OptionKind::Share,
    name: "share",
    keys: &["port"],
    default_key: Some(0),
};

const EXTMEM: OptionSpec = OptionSpec {
    kind: OptionKind::Extmem,
    name: "extmem",
    keys: &[
        "file",
        "if-num",
        "if-size",
        "ring-num",
        "ring-size",
        "buf-num",
        "buf-size",
    ],
    default_key: Some(0),
};

const OFFSET: OptionSpec = OptionSpec {
    kind: OptionKind::Offset,
    name: "offset",
    keys: &["initial", "bits"],
    default_key: Some(0),
};

const SPECS: [&OptionSpec; 4] = [&CONF, &SHARE, &EXTMEM, &OFFSET];

/// The most keys any option has.
const MAX_KEYS: usize = 9;

/// Where a key's value sits in the name.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

/// One option being decoded: the whole name, and the values of its keys.
struct OptionBody<'a> {
    input: &'a str,
    spec: &'static OptionSpec,
    values: [Option<Span>; MAX_KEYS],
}

/// Parses the options of `input`, which start with the `@` at `start`,
/// into `options`.
pub(super) fn parse_options(
    input: &str,
    start: usize,
    options: &mut PortOptions,
) -> Result<(), NameError> {
    let bytes = input.as_bytes();
    let mut at = start;
    while at < bytes.len() {
        let option_start = at + 1;
        let option_end = find(bytes, option_start, bytes.len(), b"@");
        if option_end == option_start {
            return Err(NameError::new(option_start, NameErrorKind::EmptyOption));
        }
        let body = parse_option(input, option_start, option_end)?;
        body.apply(option_start, options)?;
        at = option_end;
    }
    Ok(())
}

/// The first position in `from..to` holding one of `stops`, else `to`.
fn find(bytes: &[u8], from: usize, to: usize, stops: &[u8]) -> usize {
    (from..to)
        .find(|&i| stops.contains(&bytes[i]))
        .unwrap_or(to)
}

/// True when `written` is `canonical` with any `-` spelled `_`, or vice
/// versa.
fn key_matches(written: &[u8], canonical: &str) -> bool {
    let same =
        |(a, b): (&u8, &u8)| a == b || (matches!(a, b'-' | b'_') && matches!(b, b'-' | b'_'));
    written.len() == canonical.len() && written.iter().zip(canonical.as_bytes()).all(same)
}

/// Splits one option (`input[start..end]`, without its `@`) into its keys.
fn parse_option(input: &str, start: usize, end: usize) -> Result<OptionBody<'_>, NameError> {
    let bytes = input.as_bytes();
    let name_end = find(bytes, start, end, b":=");
    let name = &input[start..name_end];
    let spec = *SPECS
        .iter()
        .find(|spec| spec.name == name)
        .ok_or_else(|| NameError::new(start, NameErrorKind::UnknownOption(name.to_owned())))?;
    let mut body = OptionBody {
        input,
        spec,
        values: [None; MAX_KEYS],
    };
    if name_end == end {
        return Err(NameError::new(
            end,
            NameErrorKind::OptionWithoutBody(spec.name),
        ));
    }
    if bytes[name_end] == b'=' {
        let key = spec
            .default_key
            .ok_or_else(|| NameError::new(name_end, NameErrorKind::NoDefaultKey(spec.name)))?;
        let value = Span {
            start: name_end + 1,
            end,
        };
        body.set(key, value)?;
    } else {
        body.parse_keys(name_end + 1, end)?;
    }
    if let Some(key) = spec.default_key {
        if body.values[key].is_none() {
            return Err(NameError::new(
                start,
                NameErrorKind::MissingKey {
                    option: spec.name,
                    key: spec.keys[key],
                },
            ));
        }
    }
    Ok(body)
}

impl OptionBody<'_> {
    /// Parses `key=value,key=value` in `start..end`.
    fn parse_keys(&mut self, start: usize, end: usize) -> Result<(), NameError> {
        let bytes = self.input.as_bytes();
        let option = self.spec.name;
        // libnetmap treats an empty body as no keys at all.
        let mut item = start;
        while item < end {
            let key_end = find(bytes, item, end, b"=,");
            let written = &bytes[item..key_end];
            if written.is_empty() {
                return Err(NameError::new(item, NameErrorKind::EmptyKey(option)));
            }
            let key = self
                .spec
                .keys
                .iter()
                .position(|canonical| key_matches(written, canonical))
                .ok_or_else(|| {
                    NameError::new(
                        item,
                        NameErrorKind::UnknownKey {
                            option,
                            key: self.input[item..key_end].to_owned(),
                        },
                    )
                })?;
            if self.values[key].is_some() {
                return Err(NameError::new(
                    item,
                    NameErrorKind::DuplicateKey {
                        option,
                        key: self.spec.keys[key],
                    },
                ));
            }
            if key_end == end || bytes[key_end] == b',' {
                return Err(self.missing_value(key_end, key));
            }
            let value_end = find(bytes, key_end + 1, end, b",");
            self.set(
                key,
                Span {
                    start: key_end + 1,
                    end: value_end,
                },
            )?;
            if value_end == end {
                break;
            }
            item = value_end + 1;
            if item == end {
                return Err(NameError::new(item, NameErrorKind::EmptyKey(option)));
            }
        }
        Ok(())
    }

    fn missing_value(&self, pos: usize, key: usize) -> NameError {
        NameError::new(
            pos,
            NameErrorKind::MissingValue {
                option: self.spec.name,
                key: self.spec.keys[key],
            },
        )
    }

    /// Records a non-empty value for `key`.
    fn set(&mut self, key: usize, value: Span) -> Result<(), NameError> {
        if value.start == value.end {
            return Err(self.missing_value(value.start, key));
        }
        self.values[key] = Some(value);
        Ok(())
    }

    /// The text of `key`, if given.
    fn text(&self, key: usize) -> Option<&str> {
        self.values[key].map(|span| &self.input[span.start..span.end])
    }

    /// The value of `key` as a decimal number no larger than `max`.
    fn number(&self, key: usize, max: u64) -> Result<Option<u64>, NameError> {
        let Some(span) = self.values[key] else {
            return Ok(None);
        };
        let bad = |pos| {
            NameError::new(
                pos,
                NameErrorKind::BadNumber {
                    option: self.spec.name,
                    key: self.spec.keys[key],
                    max,
                },
            )
        };
        let digits = &self.input.as_bytes()[span.start..span.end];
        let mut value: u64 = 0;
        for (offset, &digit) in digits.iter().enumerate() {
            if !digit.is_ascii_digit() {
                return Err(bad(span.start + offset));
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
                .filter(|&v| v <= max)
                .ok_or_else(|| bad(span.start))?;
        }
        Ok(Some(value))
    }

    fn number_u16(&self, key: usize) -> Result<Option<u16>, NameError> {
        // The bound is checked by `number`, so the conversion cannot fail.
        Ok(self
            .number(key, u16::MAX.into())?
            .and_then(|v| u16::try_from(v).ok()))
    }

    fn number_u32(&self, key: usize) -> Result<Option<u32>, NameError> {
        Ok(self
            .number(key, u32::MAX.into())?
            .and_then(|v| u32::try_from(v).ok()))
    }

    /// Adds this option, which started at `start`, to `options`.
    fn apply(&self, start: usize, options: &mut PortOptions) -> Result<(), NameError> {
        let duplicate = || NameError::new(start, NameErrorKind::DuplicateOption(self.spec.name));
        match self.spec.kind {
            OptionKind::Conf => {
                let conf = ConfOption {
                    rings: self.number_u16(0)?,
                    host_rings: self.number_u16(1)?,
                    slots: self.number_u32(2)?,
                    tx_rings: self.number_u16(3)?,
                    rx_rings: self.number_u16(4)?,
                    host_tx_rings: self.number_u16(5)?,
                    host_rx_rings: self.number_u16(6)?,
                    tx_slots: self.number_u32(7)?,
                    rx_slots: self.number_u32(8)?,
                };
                options.conf.merge(&conf);
            }
            OptionKind::Share => {
                let port = self.share_port()?;
                match &options.share {
                    Some(first) if *first != port => {
                        return Err(NameError::new(
                            start,
                            NameErrorKind::ShareDisagrees {
                                first: first.clone(),
                                second: port,
                            },
                        ))
                    }
                    _ => options.share = Some(port),
                }
            }
            OptionKind::Extmem => {
                if options.extmem.is_some() {
                    return Err(duplicate());
                }
                options.extmem = Some(ExtmemOption {
                    file: self.text(0).unwrap_or_default().to_owned(),
                    if_num: self.number_u32(1)?,
                    if_size: self.number_u32(2)?,
                    ring_num: self.number_u32(3)?,
                    ring_size: self.number_u32(4)?,
                    buf_num: self.number_u32(5)?,
                    buf_size: self.number_u32(6)?,
                });
            }
            OptionKind::Offset => {
                if options.offset.is_some() {
                    return Err(duplicate());
                }
                options.offset = Some(OffsetOption {
                    initial: self.number(0, u64::MAX)?.unwrap_or_default(),
                    bits: self.number_u32(1)?,
                });
            }
        }
        Ok(())
    }

    /// The `@share` port: a header name (subsystem, port, pipe) and nothing
    /// else, as only its memory allocator matters.
    fn share_port(&self) -> Result<String, NameError> {
        let Some(span) = self.values[0] else {
            return Ok(String::new());
        };
        let header = parse_header(self.input, span.start, span.end)?;
        if header.end != span.end {
            return Err(NameError::new(
                header.end,
                NameErrorKind::Unexpected {
                    found: Found::at(self.input, header.end),
                    expected: "the end of the @share port name",
                },
            ));
        }
        Ok(self.input[span.start..span.end].to_owned())
    }
}
