//! The `movierec` binary: everything lives in the `movierec_cli` library.

use std::process::ExitCode;

/// Counts heap use, for the peak memory of each row of `movierec reproduce`.
#[global_allocator]
static GLOBAL: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

fn main() -> ExitCode {
    movierec_cli::main_with_args()
}
