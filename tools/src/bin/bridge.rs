//! bridge: see `netmap_tools::bridge`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    netmap_tools::bridge::main()
}
