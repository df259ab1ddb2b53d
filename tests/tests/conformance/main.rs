//! The conformance suite: netmap's ring protocol, VALE and pipes as
//! netmap documents them (docs/semantics.md), one body per case run on
//! every backend: `soft`, `process` (each port in its own process), `sim`
//! and `vfio-user`. Test names show both: `vale::unicast_floods::on_sim`.
//! What a backend cannot do is listed, with the reason, in
//! docs/conformance.md; its cases there assert the refusal instead.

mod fixture;
mod process;

/// Stamps out one `#[test]` per backend for each case: `cases!(a, b)`
/// on all four backends, `cases!([Soft on_soft, Process on_process] a)`
/// on those listed (the others excluded in docs/conformance.md).
macro_rules! cases {
    (@one $case:ident [$($kind:ident $test:ident),+]) => {
        mod $case {
            $(
                #[test]
                fn $test() {
                    crate::fixture::run(crate::fixture::Kind::$kind, super::$case);
                }
            )+
        }
    };
    ($kinds:tt $($case:ident),+ $(,)?) => {
        $( cases!(@one $case $kinds); )+
    };
    ($($case:ident),+ $(,)?) => {
        cases!(
            [Soft on_soft, Process on_process, Sim on_sim, VfioUser on_vfio_user]
            $($case),+
        );
    };
}

mod pipes;
mod rings;
mod vale;
