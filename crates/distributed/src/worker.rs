//! One timely worker's side of the fit: the rounds of messages (input
//! shuffle, item numbering, block passing, epoch sums, the final gather)
//! over a single dataflow driven by a probe, and the SGD work between them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use movierec_core::training::{Better, EarlyStopping, Verdict};
use movierec_core::{rng_for, Accumulator, EpochRecord, RatingScale};
use movierec_mf::dsgd::{row_width, EpochSchedule, SgdBlock};
use movierec_mf::{Biases, MfModel, UserReg};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Exchange, Input, Probe};
use timely::dataflow::{InputHandleVec, ProbeHandle};

use crate::checkpoint::{self, Checkpoint, ItemBlock, Snapshot};
use crate::input::{self, RawRating};
use crate::{EpochCost, Error, Job, Trained};

/// A message between workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Msg {
    dest: u32,
    from: u32,
    seq: u32,
    body: Body,
}

/// Per-worker sums of an epoch.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Sums {
    train: Accumulator,
    val: Accumulator,
    finite: bool,
    bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Body {
    /// A worker's error, or `None` when all is well.
    Status(Option<String>),
    /// Ratings for their user's owner.
    Ratings {
        train: Vec<RawRating>,
        val: Vec<RawRating>,
    },
    /// To an item stratum's home: the distinct ids the sender rated.
    ItemIds { train: Vec<u64>, val: Vec<u64> },
    /// Training sum, count, min and max, for the global mean and scale.
    Totals(f64, u64, f32, f32),
    /// From a home: the rows of the ids asked (`u32::MAX`: not trained).
    Rows { train: Vec<u32>, val: Vec<u32> },
    /// The epochs whose checkpoints the sender has whole.
    Epochs(Vec<u32>),
    /// An item factor block.
    Block(ItemBlock),
    /// An epoch's sums.
    Sums(Sums),
    /// The final gather, to worker 0.
    Final(Box<Final>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Final {
    users: Vec<u64>,
    p: Vec<f32>,
    bu: Vec<f32>,
    held: ItemBlock,
    /// This worker's item stratum's ids (it is their home).
    items: Vec<u64>,
    /// Training ratings as (user row, item stratum, item row, value).
    ratings: Vec<(u32, u32, u32, f32)>,
    epochs: u32,
}

impl Body {
    /// Payload bytes, for the traffic figures.
    fn bytes(&self) -> u64 {
        let n = match self {
            Body::Status(s) => s.as_ref().map_or(1, |s| s.len()),
            Body::Ratings { train, val } => 20 * (train.len() + val.len()),
            Body::ItemIds { train, val } => 8 * (train.len() + val.len()),
            Body::Totals(..) => 24,
            Body::Rows { train, val } => 4 * (train.len() + val.len()),
            Body::Epochs(e) => 4 * e.len(),
            Body::Block(b) => 4 * (b.q.len() + b.b.len()) + 4,
            Body::Sums(_) => std::mem::size_of::<Sums>(),
            Body::Final(f) => {
                8 * (f.users.len() + f.items.len())
                    + 4 * (f.p.len() + f.bu.len() + f.held.q.len() + f.held.b.len())
                    + 16 * f.ratings.len()
            }
        };
        n as u64 + 12
    }
}

/// The message rounds: send, advance the input to the next round, step
/// until the probe has passed it, take what arrived (sorted by sender).
struct Net<'w> {
    worker: &'w mut timely::worker::Worker,
    input: InputHandleVec<u64, Msg>,
    probe: ProbeHandle<u64>,
    inbox: Rc<RefCell<Vec<(u64, Msg)>>>,
    me: usize,
    peers: usize,
    threads: usize,
    seq: u32,
    round: u64,
    /// Payload bytes sent to other processes so far.
    bytes: u64,
}

impl Net<'_> {
    fn send(&mut self, dest: usize, body: Body) {
        if dest / self.threads != self.me / self.threads {
            self.bytes += body.bytes();
        }
        self.seq += 1;
        self.input.send(Msg {
            dest: dest as u32,
            from: self.me as u32,
            seq: self.seq,
            body,
        });
    }

    fn broadcast(&mut self, body: &Body) {
        for dest in 0..self.peers {
            self.send(dest, body.clone());
        }
    }

    /// Ends the round: everything sent in it has arrived everywhere.
    fn finish(&mut self) -> Vec<Msg> {
        self.round += 1;
        self.input.advance_to(self.round);
        while self.probe.less_than(self.input.time()) {
            self.worker.step();
        }
        // A faster worker's messages of the next round may be here already.
        let this = self.round - 1;
        let mut inbox = self.inbox.borrow_mut();
        let (mut got, later): (Vec<_>, Vec<_>) = std::mem::take(&mut *inbox)
            .into_iter()
            .partition(|(t, _)| *t == this);
        *inbox = later;
        got.sort_by_key(|(_, m)| (m.from, m.seq));
        got.into_iter().map(|(_, m)| m).collect()
    }

    /// A round in which every worker says whether it failed; all return
    /// the first error in worker order.
    fn agree(&mut self, status: Result<(), Error>) -> Result<Vec<Msg>, Error> {
        let body = Body::Status(status.err().map(|e| e.0));
        self.broadcast(&body);
        let got = self.finish();
        for m in &got {
            if let Body::Status(Some(e)) = &m.body {
                return Err(Error(e.clone()));
            }
        }
        Ok(got)
    }
}

pub(crate) fn run(job: &Job, file: PathBuf) -> Result<Option<Trained>, Error> {
    let c = &job.cluster;
    let communication = if c.processes == 1 {
        timely::CommunicationConfig::Process(c.threads)
    } else {
        timely::CommunicationConfig::Cluster {
            threads: c.threads,
            process: c.process,
            addresses: c.addresses.clone(),
            report: false,
            zerocopy: false,
        }
    };
    let config = timely::Config {
        communication,
        worker: timely::WorkerConfig::default(),
    };
    let job = Arc::new(job.clone());
    let guards = timely::execute(config, move |worker| {
        let inbox: Rc<RefCell<Vec<(u64, Msg)>>> = Rc::default();
        let mut input = InputHandleVec::<u64, Msg>::new();
        let sink = inbox.clone();
        let probe = worker.dataflow::<u64, _, _>(|scope| {
            scope
                .input_from(&mut input)
                .exchange(|m: &Msg| u64::from(m.dest))
                .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Pipeline,
                    "Inbox",
                    move |_, _| {
                        move |input, _output| {
                            input.for_each(|cap, data: &mut Vec<Msg>| {
                                let time = cap.least().copied().unwrap_or(0);
                                sink.borrow_mut().extend(data.drain(..).map(|m| (time, m)));
                            });
                        }
                    },
                )
                .probe()
                .0
        });
        let (me, peers) = (worker.index(), worker.peers());
        let mut net = Net {
            worker,
            input,
            probe,
            inbox,
            me,
            peers,
            threads: job.cluster.threads,
            seq: 0,
            round: 0,
            bytes: 0,
        };
        fit(&mut net, &job, &file)
    })
    .map_err(|e| Error(format!("starting the workers: {e}")))?;
    let mut out = None;
    for r in guards.join() {
        match r {
            Ok(Ok(Some(t))) => out = Some(t),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Error(format!("a worker failed: {e}"))),
        }
    }
    Ok(out)
}

/// The hash of what a checkpoint belongs to.
fn fingerprint(job: &Job, file: &Path, workers: usize) -> u64 {
    let mut h = input::mix(workers as u64);
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = input::mix(h ^ u64::from_le_bytes(word));
        }
    };
    add(&postcard::to_stdvec(&job.config).unwrap_or_default());
    add(&job.seed.to_le_bytes());
    add(&job.validation_fraction.to_le_bytes());
    let len = std::fs::metadata(file).map_or(0, |m| m.len());
    add(&len.to_le_bytes());
    h
}

/// Draws `rows` rows of `k` values (padded to `width`) from stream `stream`.
fn initial_rows(
    rows: usize,
    k: usize,
    width: usize,
    mean: f32,
    std: f32,
    rng: u64,
    stream: u64,
) -> Vec<f32> {
    let mut rng = rng_for(rng, stream);
    let normal = Normal::new(mean, std).expect("validated std");
    let mut out = vec![0.0f32; rows * width];
    for row in out.chunks_mut(width) {
        for x in &mut row[..k] {
            *x = normal.sample(&mut rng);
        }
    }
    out
}

/// Streams of the random draws (the low bits are the stratum or block).
const USER_INIT: u64 = 1 << 40;
const ITEM_INIT: u64 = 2 << 40;
const BLOCK_SHUFFLE: u64 = 3 << 40;

fn fit(net: &mut Net<'_>, job: &Job, file: &Path) -> Result<Option<Trained>, Error> {
    let (me, w) = (net.me, net.peers);
    let cfg = &job.config;
    let seed = cfg.seed.unwrap_or(job.seed);
    let k = cfg.factors;
    let width = row_width(k);

    // Round 1: each worker reads its byte range and sends every rating to
    // its user's owner.
    let part = input::read_part(file, me, w);
    let status = part.as_ref().map(|_| ()).map_err(Clone::clone);
    if let Ok(part) = part {
        let mut train: Vec<Vec<RawRating>> = vec![Vec::new(); w];
        let mut val: Vec<Vec<RawRating>> = vec![Vec::new(); w];
        for (u, i, r) in part {
            let dest = input::user_stratum(u, w);
            if input::is_validation(seed, u, i, job.validation_fraction) {
                val[dest].push((u, i, r));
            } else {
                train[dest].push((u, i, r));
            }
        }
        for (dest, (train, val)) in train.into_iter().zip(val).enumerate() {
            net.send(dest, Body::Ratings { train, val });
        }
    }
    let got = net.agree(status)?;
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for m in got {
        if let Body::Ratings { train: t, val: v } = m.body {
            train.extend(t);
            val.extend(v);
        }
    }
    train.sort_unstable_by_key(|a| (a.0, a.1));
    val.sort_unstable_by_key(|a| (a.0, a.1));
    let duplicate = train
        .windows(2)
        .find(|x| (x[0].0, x[0].1) == (x[1].0, x[1].1))
        .or_else(|| {
            val.windows(2)
                .find(|x| (x[0].0, x[0].1) == (x[1].0, x[1].1))
        })
        .map(|x| format!("user {} rated movie {} twice", x[0].0, x[0].1));
    let mut users: Vec<u64> = train.iter().map(|x| x.0).collect();
    users.dedup();
    let user_row: HashMap<u64, u32> = users
        .iter()
        .enumerate()
        .map(|(r, &u)| (u, r as u32))
        .collect();
    // Distinct items per stratum, training and validation.
    let mut asked_train: Vec<Vec<u64>> = vec![Vec::new(); w];
    let mut asked_val: Vec<Vec<u64>> = vec![Vec::new(); w];
    for &(_, i, _) in &train {
        asked_train[input::item_stratum(i, w)].push(i);
    }
    for &(_, i, _) in &val {
        asked_val[input::item_stratum(i, w)].push(i);
    }
    for v in asked_train.iter_mut().chain(asked_val.iter_mut()) {
        v.sort_unstable();
        v.dedup();
    }

    // Round 2: ids to their homes; training totals to all.
    for c in 0..w {
        net.send(
            c,
            Body::ItemIds {
                train: asked_train[c].clone(),
                val: asked_val[c].clone(),
            },
        );
    }
    let (mut sum, mut min, mut max) = (0.0f64, f32::INFINITY, f32::NEG_INFINITY);
    for &(_, _, r) in &train {
        sum += f64::from(r);
        min = min.min(r);
        max = max.max(r);
    }
    net.broadcast(&Body::Totals(sum, train.len() as u64, min, max));
    let got = net.agree(duplicate.map_or(Ok(()), |d| Err(Error(d))))?;
    let (mut total, mut count, mut lo, mut hi) = (0.0f64, 0u64, f32::INFINITY, f32::NEG_INFINITY);
    let mut requests = Vec::new();
    for m in got {
        match m.body {
            Body::Totals(s, n, a, b) => {
                total += s;
                count += n;
                lo = lo.min(a);
                hi = hi.max(b);
            }
            Body::ItemIds { train, val } => requests.push((m.from as usize, train, val)),
            _ => {}
        }
    }
    if count == 0 {
        return Err(Error("no training rating".into()));
    }
    let mu = (total / count as f64) as f32;
    let scale = RatingScale::new(lo, hi);
    // The home numbers its stratum's items by sorted id.
    let mut home_items: Vec<u64> = requests.iter().flat_map(|r| r.1.iter().copied()).collect();
    home_items.sort_unstable();
    home_items.dedup();
    let home_row: HashMap<u64, u32> = home_items
        .iter()
        .enumerate()
        .map(|(r, &i)| (i, r as u32))
        .collect();
    let row_of = |i: &u64| home_row.get(i).copied().unwrap_or(u32::MAX);

    // Round 3: rows back to the askers.
    for (from, t, v) in &requests {
        net.send(
            *from,
            Body::Rows {
                train: t.iter().map(row_of).collect(),
                val: v.iter().map(row_of).collect(),
            },
        );
    }
    drop(requests);
    let got = net.agree(Ok(()))?;
    let mut item_rows: Vec<HashMap<u64, u32>> = vec![HashMap::new(); w];
    for m in got {
        if let Body::Rows { train: t, val: v } = m.body {
            let c = m.from as usize;
            let map = &mut item_rows[c];
            map.extend(asked_train[c].iter().copied().zip(t));
            map.extend(asked_val[c].iter().copied().zip(v));
        }
    }
    drop((asked_train, asked_val));
    // The blocks of this user stratum, ratings in (user, item) order, then
    // shuffled once by their own stream.
    let mut block_ratings: Vec<Vec<(u32, u32, f32)>> = vec![Vec::new(); w];
    for &(u, i, r) in &train {
        let c = input::item_stratum(i, w);
        block_ratings[c].push((user_row[&u], item_rows[c][&i], r));
    }
    drop(train);
    let mut blocks: Vec<SgdBlock> = block_ratings
        .iter()
        .enumerate()
        .map(|(c, r)| SgdBlock::new(r, seed, BLOCK_SHUFFLE | (me * w + c) as u64))
        .collect();
    drop(block_ratings);
    let mut preds: Vec<Vec<f32>> = blocks.iter().map(|b| vec![0.0; b.len()]).collect();
    let mut validation: Vec<Vec<(u32, u32, f32)>> = vec![Vec::new(); w];
    for &(u, i, r) in &val {
        let c = input::item_stratum(i, w);
        match (user_row.get(&u), item_rows[c].get(&i)) {
            (Some(&ur), Some(&ir)) if ir != u32::MAX => validation[c].push((ur, ir, r)),
            _ => {} // a user or movie without training ratings
        }
    }
    drop((val, item_rows, user_row));

    let mean = if cfg.biases {
        0.0
    } else {
        (mu.max(0.0) / k as f32).sqrt()
    };
    let bias_len = |n: usize| if cfg.biases { n } else { 0 };
    let fresh = || Snapshot {
        epoch: 0,
        p: initial_rows(
            users.len(),
            k,
            width,
            mean,
            cfg.init_std,
            seed,
            USER_INIT | me as u64,
        ),
        bu: vec![0.0; bias_len(users.len())],
        held: ItemBlock {
            stratum: me as u32,
            q: initial_rows(
                home_items.len(),
                k,
                width,
                mean,
                cfg.init_std,
                seed,
                ITEM_INIT | me as u64,
            ),
            b: vec![0.0; bias_len(home_items.len())],
        },
    };

    // Round 4: agree on the epoch to resume from.
    let print = fingerprint(job, file, w);
    let dir = job.checkpoints.clone();
    let mine = match (&dir, job.resume) {
        (Some(d), true) => checkpoint::valid_epochs(d, me, print),
        _ => Vec::new(),
    };
    net.broadcast(&Body::Epochs(mine));
    let got = net.agree(Ok(()))?;
    let mut common: Option<Vec<u32>> = None;
    for m in got {
        if let Body::Epochs(e) = m.body {
            common = Some(match common {
                None => e,
                Some(c) => c.into_iter().filter(|x| e.contains(x)).collect(),
            });
        }
    }
    let resume_at = common.and_then(|c| c.into_iter().max()).unwrap_or(0);
    let validating = job.validation_fraction > 0.0;
    let mut stopper = EarlyStopping::new(Better::Lower, cfg.patience);
    let mut scores = Vec::new();
    let mut best: Option<Snapshot> = None;
    let mut stopped = false;
    let mut state = if resume_at > 0 {
        let d = dir.as_deref().expect("resuming needs a folder");
        let c = checkpoint::read(d, me, resume_at, print).ok_or_else(|| {
            Error(format!(
                "checkpoint of worker {me}, epoch {resume_at}: unreadable"
            ))
        })?;
        for (b, o) in blocks.iter_mut().zip(c.orders) {
            if !b.set_order(o) {
                return Err(Error(format!(
                    "checkpoint of worker {me}: chunk orders do not fit the data"
                )));
            }
        }
        for (e, &s) in c.scores.iter().enumerate() {
            stopped = stopper.observe(e + 1, s) == Verdict::Stop;
        }
        scores = c.scores;
        best = c.best;
        c.state
    } else {
        // Round 5 (fresh start): each home sends its block to its first holder.
        let mut s = fresh();
        let sched = EpochSchedule::new(w, w, seed, 1);
        let to = holder(&sched, w, me, 0);
        net.send(to, Body::Block(std::mem::take(&mut s.held)));
        let got = net.finish();
        s.held = take_block(got)?;
        s
    };

    let mut costs = Vec::new();
    let start = Instant::now();
    let mut epoch = state.epoch as usize;
    while !stopped && epoch < cfg.epochs {
        epoch += 1;
        let t0 = Instant::now();
        let bytes0 = net.bytes;
        let sched = EpochSchedule::new(w, w, seed, epoch);
        let next = EpochSchedule::new(w, w, seed, epoch + 1);
        let step = cfg.block_step(epoch, mu);
        let mut sums = Sums::default();
        let rounds = if validating { 2 * w } else { w };
        for r in 0..rounds {
            let t = r % w;
            let c = sched.item_stratum(me, t);
            let held = &mut state.held;
            if held.stratum as usize != c {
                return Err(Error(format!(
                    "worker {me}, epoch {epoch}, step {r}: holds block {} instead of {c}",
                    held.stratum
                )));
            }
            if r < w {
                blocks[c].run(
                    width,
                    &mut state.p,
                    &mut held.q,
                    &mut state.bu,
                    &mut held.b,
                    step,
                    (seed, epoch, me * w + c),
                    &mut preds[c],
                );
                for ((_, _, r), &p) in blocks[c].ratings().zip(&preds[c]) {
                    sums.train.add(p, r, scale);
                }
            } else {
                for &(u, i, r) in &validation[c] {
                    let p = predict(&state.p, &state.bu, held, u, i, width, mu, cfg.biases);
                    sums.val.add(p, r, scale);
                }
            }
            let to = if r + 1 < rounds {
                holder(&sched, w, c, (r + 1) % w)
            } else {
                holder(&next, w, c, 0)
            };
            if r + 1 == rounds {
                sums.finite = [&state.p, &state.bu, &held.q, &held.b]
                    .iter()
                    .all(|v| v.iter().all(|x| x.is_finite()));
            }
            net.send(to, Body::Block(std::mem::take(held)));
            if r + 1 == rounds {
                sums.bytes = net.bytes - bytes0;
                net.broadcast(&Body::Sums(sums));
            }
            let got = net.finish();
            let mut all = Sums {
                finite: true,
                ..Sums::default()
            };
            let mut block = None;
            for m in got {
                match m.body {
                    Body::Block(b) => block = Some(b),
                    Body::Sums(s) => {
                        all.train.merge(&s.train);
                        all.val.merge(&s.val);
                        all.finite &= s.finite;
                        all.bytes += s.bytes;
                    }
                    _ => {}
                }
            }
            state.held = block.ok_or_else(|| Error(format!("worker {me}: no block arrived")))?;
            if r + 1 == rounds {
                sums = all;
            }
        }
        if !sums.finite {
            return Err(Error(format!(
                "mf-sgd diverged at epoch {epoch}: the factors are no longer finite numbers (lower the learning rates)"
            )));
        }
        state.epoch = epoch as u32;
        let val_m = Some(sums.val.finish()).filter(|m| validating && m.n > 0);
        let record = EpochRecord {
            epoch,
            loss: None,
            train: Some(sums.train.finish()),
            validation: val_m,
            seconds: start.elapsed().as_secs_f64(),
        };
        if me == 0 {
            if let Some(progress) = &job.progress {
                progress(&record);
            }
        }
        if let Some(m) = val_m {
            scores.push(m.rmse);
            match stopper.observe(epoch, m.rmse) {
                Verdict::Improved if stopper.enabled() => best = Some(state.clone()),
                Verdict::Stop => stopped = true,
                _ => {}
            }
        }
        costs.push(EpochCost {
            epoch,
            seconds: t0.elapsed().as_secs_f64(),
            bytes: sums.bytes,
        });
        if let Some(d) = &dir {
            let c = Checkpoint {
                fingerprint: print,
                worker: me as u32,
                state: state.clone(),
                orders: blocks.iter().map(|b| b.order().to_vec()).collect(),
                scores: scores.clone(),
                best: best.clone(),
            };
            checkpoint::write(d, &c)?;
            if let Some(ms) = std::env::var("MOVIEREC_DISTRIBUTED_EPOCH_PAUSE_MS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
        }
    }

    // The gather: the best epoch's parameters (or the last) to worker 0.
    let chosen = match (&best, stopper.best()) {
        (Some(b), Some(_)) => b.clone(),
        _ => state,
    };
    let strip = |rows: &[f32]| -> Vec<f32> {
        rows.chunks(width)
            .flat_map(|r| r[..k].iter().copied())
            .collect()
    };
    let ratings: Vec<(u32, u32, u32, f32)> = blocks
        .iter()
        .enumerate()
        .flat_map(|(c, b)| b.ratings().map(move |(u, i, r)| (u, c as u32, i, r)))
        .collect();
    let fin = Final {
        users: users.clone(),
        p: strip(&chosen.p),
        bu: chosen.bu.clone(),
        held: ItemBlock {
            stratum: chosen.held.stratum,
            q: strip(&chosen.held.q),
            b: chosen.held.b.clone(),
        },
        items: home_items.clone(),
        ratings,
        epochs: chosen.epoch,
    };
    drop(blocks);
    net.send(0, Body::Final(Box::new(fin)));
    let got = net.finish();
    if me != 0 {
        return Ok(None);
    }
    let mut finals: Vec<Final> = got
        .into_iter()
        .filter_map(|m| match m.body {
            Body::Final(f) => Some(*f),
            _ => None,
        })
        .collect();
    if finals.len() != w {
        return Err(Error(format!(
            "gathered {} of {w} workers' parts",
            finals.len()
        )));
    }
    // Dense order: user strata in worker order, item strata in stratum order.
    let mut user_off = vec![0u32; w + 1];
    let mut item_off = vec![0u32; w + 1];
    for (a, f) in finals.iter().enumerate() {
        user_off[a + 1] = user_off[a] + f.users.len() as u32;
        item_off[a + 1] = item_off[a] + f.items.len() as u32;
    }
    let (n_users, n_items) = (user_off[w] as usize, item_off[w] as usize);
    let mut p = Vec::with_capacity(n_users * k);
    let mut bu = Vec::with_capacity(n_users);
    let mut all_users = Vec::with_capacity(n_users);
    let mut all_items = Vec::with_capacity(n_items);
    let mut q = vec![0.0f32; n_items * k];
    let mut bi = vec![0.0f32; if cfg.biases { n_items } else { 0 }];
    let mut train = Vec::new();
    for (a, f) in finals.iter_mut().enumerate() {
        all_users.extend_from_slice(&f.users);
        all_items.extend_from_slice(&f.items);
        p.extend_from_slice(&f.p);
        bu.extend_from_slice(&f.bu);
        for &(u, c, i, r) in &f.ratings {
            train.push((user_off[a] + u, item_off[c as usize] + i, r));
        }
        f.ratings = Vec::new();
    }
    for f in &finals {
        let c = f.held.stratum as usize;
        let off = item_off[c] as usize;
        q[off * k..off * k + f.held.q.len()].copy_from_slice(&f.held.q);
        if cfg.biases {
            bi[off..off + f.held.b.len()].copy_from_slice(&f.held.b);
        }
    }
    train.sort_unstable_by_key(|x| (x.0, x.1));
    let epochs = finals[0].epochs as usize;
    let biases = cfg.biases.then_some(Biases {
        mu,
        user: bu,
        item: bi,
    });
    let model = MfModel::new(k, p, q, biases, epochs).with_user_reg(UserReg {
        factors: cfg.reg_factors,
        bias: cfg.reg_biases,
        per_rating: true,
    });
    Ok(Some(Trained {
        users: all_users,
        items: all_items,
        model,
        train,
        range: (lo, hi),
        epochs: costs,
        resumed_from: resume_at,
    }))
}

/// The worker that holds item stratum `c` at step `t` of `sched`.
fn holder(sched: &EpochSchedule, w: usize, c: usize, t: usize) -> usize {
    (0..w)
        .find(|&a| sched.item_stratum(a, t) == c)
        .expect("a schedule step is a permutation")
}

fn take_block(got: Vec<Msg>) -> Result<ItemBlock, Error> {
    got.into_iter()
        .find_map(|m| match m.body {
            Body::Block(b) => Some(b),
            _ => None,
        })
        .ok_or_else(|| Error("no item block arrived".into()))
}

#[allow(clippy::too_many_arguments)]
fn predict(
    p: &[f32],
    bu: &[f32],
    held: &ItemBlock,
    u: u32,
    i: u32,
    width: usize,
    mu: f32,
    biases: bool,
) -> f32 {
    let (u, i) = (u as usize, i as usize);
    let dot = movierec_core::kernels::dot_scalar_tail_dispatched(
        &p[u * width..(u + 1) * width],
        &held.q[i * width..(i + 1) * width],
    );
    if biases {
        mu + bu[u] + held.b[i] + dot
    } else {
        dot
    }
}
