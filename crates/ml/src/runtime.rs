//! Thread control. One job runs on its own rayon pool, so its thread count is explicit and jobs never
//! oversubscribe the cores. Results do not depend on the thread count (tested at 1 and 2 threads).

use crate::{Error, Result};

/// Runs `f` on a dedicated rayon pool of `threads` threads (candle's CPU kernels use the current pool).
///
/// candle's f32 matmul (`gemm`) sizes its own parallelism from `RAYON_NUM_THREADS` (else the core count), not
/// from the pool. Processes that run one-thread jobs should therefore also set `RAYON_NUM_THREADS=1`: on this
/// 2-core machine under load, SmolLM2 decoding ran at 3.8 tok/s without it and 14 tok/s with it. Outputs are
/// identical either way.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
    if threads == 0 {
        return Err(Error::param("threads", "must be at least 1"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("mycel-ml-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool(e.to_string()))?;
    Ok(pool.install(f))
}

/// Models loaded after `force_portable_kernels(true)` run the portable quantized kernels instead of the
/// AVX512-VNNI ones (as `MYCEL_ML_KERNEL=portable` does for a whole process). Both give the same bits;
/// this exists to show it, and to time one against the other.
pub fn force_portable_kernels(on: bool) {
    crate::vnni::force_portable(on);
}

/// The quantized kernels models loaded now would use: `"avx512-vnni"` or `"portable"`.
pub fn quantized_kernels() -> &'static str {
    if crate::vnni::available() {
        "avx512-vnni"
    } else {
        "portable"
    }
}
