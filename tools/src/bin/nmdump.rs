//! nmdump: see `netmap_tools::nmdump`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    netmap_tools::nmdump::main()
}
