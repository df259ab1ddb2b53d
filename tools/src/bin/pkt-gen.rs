//! pkt-gen: see `netmap_tools::pktgen`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    netmap_tools::pktgen::main()
}
