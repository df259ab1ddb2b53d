//! Every fuzz target of this crate: its committed corpus replayed (the
//! regression tests), then a bounded fuzzing run (`NETMAP_FUZZ_SECONDS`,
//! default 3 per target). A failing input is saved into the corpus. The
//! `nmreq` target (control requests) runs in `netmap-preload`'s own tests.

fn run(name: &str) {
    let mut target = netmap_fuzz::target(name).unwrap();
    netmap_fuzz::runner::check(target.as_mut());
}

#[test]
fn fuzz_names() {
    run("names");
}

#[test]
fn fuzz_rings() {
    run("rings");
}

#[test]
fn fuzz_regs() {
    run("regs");
}
