//! Why a port name was rejected, and where.

use std::fmt;

/// A rejected port name: the byte offset of the offending input and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at {pos}: {kind}")]
pub struct NameError {
    /// Byte offset into the name; equal to the name's length when the name
    /// ended too early.
    pub pos: usize,
    /// What is wrong there.
    pub kind: NameErrorKind,
}

impl NameError {
    pub(crate) fn new(pos: usize, kind: NameErrorKind) -> Self {
        Self { pos, kind }
    }
}

/// What the parser found where it expected something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// A character of the name.
    Char(char),
    /// The end of the name.
    End,
}

impl Found {
    /// What stands at byte `pos` of `input` (`pos` must be a char boundary).
    pub(crate) fn at(input: &str, pos: usize) -> Self {
        input
            .get(pos..)
            .and_then(|rest| rest.chars().next())
            .map_or(Found::End, Found::Char)
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Char(c) => write!(f, "{:?}", c),
            Found::End => f.write_str("the end of the name"),
        }
    }
}

/// The reasons a port name is rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameErrorKind {
    /// The name starts with neither `netmap:` nor `vale`.
    #[error("a port name starts with 'netmap:' or 'vale' (a VALE switch)")]
    UnknownSubsystem,
    /// A character (or the end) where the grammar allows something else.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What is there.
        found: Found,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// Nothing between the `:` and the suffixes.
    #[error("the port name is empty")]
    EmptyPortName,
    /// Nothing after `{` or `}`.
    #[error("the pipe id after '{{' or '}}' is empty")]
    EmptyPipeId,
    /// The name (as it goes in `nr_name`) does not fit.
    #[error("the port name is {len} bytes long; netmap allows at most {max}")]
    NameTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `-N` or `^N` with N past the last ring netmap can address.
    #[error("ring number out of range 0..={}", super::MAX_RING_ID)]
    RingOutOfRange,
    /// `@0`, or a memory id that does not fit in 16 bits.
    #[error("memory id out of range 1..=65535")]
    MemIdOutOfRange,
    /// A second `@N` with a different value.
    #[error("second @{second} disagrees with @{first}")]
    MemIdDisagrees {
        /// The value given first.
        first: u16,
        /// The value given now.
        second: u16,
    },
    /// The legacy grammar allows one `@N` only.
    #[error("the legacy grammar allows one '@' only")]
    SecondMemId,
    /// `@@`, or a trailing `@` after an option.
    #[error("empty option between '@'s")]
    EmptyOption,
    /// `@foo:...` where foo is not conf, share, extmem or offset.
    #[error("unknown option '{0}' (known: conf, share, extmem, offset)")]
    UnknownOption(String),
    /// `@conf` with neither `:` nor `=`.
    #[error("option '{0}' needs ':key=value,...' or '=value'")]
    OptionWithoutBody(&'static str),
    /// `@conf=...`: conf has no positional value.
    #[error("option '{0}' takes no '=value', only ':key=value,...'")]
    NoDefaultKey(&'static str),
    /// `@conf:...,,...` or a leading comma.
    #[error("empty key in option '{0}'")]
    EmptyKey(&'static str),
    /// A key the option does not know.
    #[error("option '{option}' has no key '{key}'")]
    UnknownKey {
        /// The option.
        option: &'static str,
        /// The key as written.
        key: String,
    },
    /// The same key twice in one option.
    #[error("option '{option}' sets key '{key}' twice")]
    DuplicateKey {
        /// The option.
        option: &'static str,
        /// The key (canonical spelling).
        key: &'static str,
    },
    /// A key without `=value`, or with an empty value.
    #[error("key '{key}' of option '{option}' needs a value")]
    MissingValue {
        /// The option.
        option: &'static str,
        /// The key (canonical spelling).
        key: &'static str,
    },
    /// A mandatory key was not given.
    #[error("option '{option}' needs key '{key}'")]
    MissingKey {
        /// The option.
        option: &'static str,
        /// The key (canonical spelling).
        key: &'static str,
    },
    /// A numeric value with other characters or too large.
    #[error("key '{key}' of option '{option}' takes a decimal number up to {max}")]
    BadNumber {
        /// The option.
        option: &'static str,
        /// The key (canonical spelling).
        key: &'static str,
        /// The largest value accepted.
        max: u64,
    },
    /// `@extmem` or `@offset` given twice (netmap rejects duplicate options).
    #[error("option '{0}' given twice")]
    DuplicateOption(&'static str),
    /// Two `@share=` naming different ports.
    #[error("second @share={second} disagrees with @share={first}")]
    ShareDisagrees {
        /// The port given first.
        first: String,
        /// The port given now.
        second: String,
    },
}
