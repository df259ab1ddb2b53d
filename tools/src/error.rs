//! What the tools print when something fails, and their exit status.
//!
//! Every failure goes to stderr as `tool: message` and exits with status 1
//! (clap's usage errors exit with 2). A bad port name also shows the name
//! with a caret under the offending position.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use netmap_ring::port::{PortError, SyncError};

/// A failure of one of the tools.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Opening a port failed.
    #[error("{}", describe_port_error(.name, .source))]
    Port { name: String, source: PortError },
    /// A sync failed mid-run.
    #[error("{name}: {source}")]
    Sync { name: String, source: SyncError },
    /// An administrative request failed (valectl).
    #[error("{}", describe_admin_error(.0))]
    Admin(#[from] vale_soft::admin::AdminError),
    /// A file could not be written or read.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// Arguments that parse but do not make sense together.
    #[error("{0}")]
    Usage(String),
}

impl ToolError {
    pub fn port(name: &str, source: PortError) -> Self {
        ToolError::Port {
            name: name.to_owned(),
            source,
        }
    }

    pub fn sync(name: &str, source: SyncError) -> Self {
        ToolError::Sync {
            name: name.to_owned(),
            source,
        }
    }
}

/// The message for a port that did not open: for a bad name, the name
/// with a caret under the position the parser stopped at.
pub fn describe_port_error(name: &str, e: &PortError) -> String {
    match e {
        PortError::Name(n) => {
            let column = name
                .get(..n.pos.min(name.len()))
                .map_or(n.pos, |s| s.chars().count());
            format!(
                "bad port name '{name}': {n}\n  {name}\n  {caret:>width$}",
                caret = "^",
                width = column + 1
            )
        }
        PortError::Permission { .. } => {
            format!("{e} (the runtime directory is per user, mode 0700; see NETMAP_RS_DIR)")
        }
        _ => e.to_string(),
    }
}

/// The message for a failed administrative request (a bad name gets its
/// caret too).
pub fn describe_admin_error(e: &vale_soft::admin::AdminError) -> String {
    match e {
        vale_soft::admin::AdminError::Name { name, source } => {
            describe_port_error(name, &PortError::Name(source.clone()))
        }
        other => other.to_string(),
    }
}

/// Prints `error` for `tool` and gives the exit status.
pub fn exit_with(tool: &str, error: &ToolError) -> ExitCode {
    eprintln!("{tool}: {error}");
    ExitCode::from(1)
}

/// Runs a tool's body and turns its error into a message and status.
pub fn run(tool: &str, body: impl FnOnce() -> Result<(), ToolError>) -> ExitCode {
    crate::signal::die_on_closed_output();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_with(tool, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_name_shows_a_caret_at_the_position() {
        let name = "vale0:a{";
        let err = name.parse::<netmap_ring::name::PortName>().unwrap_err();
        let text = describe_port_error(name, &PortError::Name(err.clone()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("bad port name 'vale0:a{': at "),
            "{text}"
        );
        assert_eq!(lines[1], "  vale0:a{");
        let caret_column = lines[2].find('^').unwrap() - 2;
        assert_eq!(caret_column, err.pos);
    }
}
