//! What the CPU the engine runs on can do, for the hot loops that are
//! compiled twice: for the target's baseline and, on x86-64, for AVX2,
//! BMI1 and BMI2 (the `x86-64-v3` level), chosen per call.

/// True when this CPU has AVX2, BMI1 and BMI2: the loops compiled for
/// them (`collect_by_table_x86v3`, `swap_run_x86v3`) may run. The answer
/// is cached by the standard library after the first call.
#[inline]
pub(crate) fn has_x86v3() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
