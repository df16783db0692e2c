//! End-to-end tests of the `movierec` binary: exit codes, one-line errors,
//! output shapes, and (with `MOVIELENS_DIR`) the accuracy targets.

// Bad input: every case exits 1 with one line naming file, line and problem.
mod errors;
// Issue 16's hostile commands: refused fast, one clean line each.
mod hostile;
// The protocol on small data built here, a given pair, synthetic data.
mod commands;
// Issue 16's fuzz suite: mutated model files, datasets, configs and
// new-user files never panic (scripts/fuzz.sh runs the long campaign).
mod fuzz;
// Tuned defaults agree with the recorded tuning winners.
mod defaults;
// evaluate --ranking: top-N metrics in every output format.
mod ranking;
// train, recommend, similar, predict and movies; ml-latest-small when set.
mod recommend;
// ml-latest-small, when MOVIELENS_DIR is set.
mod real_data;
// reproduce --quick and evaluate --protocol report on small data built here.
mod reproduce;
// Issue 18: train --workers over timely, launch --local and its recovery.
mod distributed;
mod util;
