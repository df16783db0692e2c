#!/usr/bin/env bash
# Scaling study (issue 17): fit time and peak memory of each model at 1, 5,
# 10 and 25 million synthetic ratings (the ml-25m shape, users and movies
# scaled with the ratings), mf-sgd at 100 million (Netflix shape), and
# at 25M the one fit a user asks for (`train --no-refit`) and held-out RMSE
# on a 90/10 split, for default and large settings.
# Writes results/scaling.md and results/scaling.svg through
# `movierec report scaling`.
#
# A full run takes hours on 2 cores, so it is cached and resumable: each
# cell is one line in $WORK/cells/<kind>-<model>-<preset>-<size>.tsv and is
# skipped when that file exists (delete it to measure again). Subsets:
#   MODELS="knn mf-sgd"      models of the fit grid (default: all six)
#   SIZES="1 5"              millions of ratings (default: 1 5 10 25)
#   NETFLIX=0                skip mf-sgd at 100M (default 1; NETFLIX=synth only
#                            writes the 100M folder, measuring synth)
#   FIT_PRESETS="large"      presets of the fit cells (default: default; a
#                            model without that preset fails its cell)
#   TRAIN_MODELS="knn"       models of the 25M one-fit cells (default: none):
#                            `train --no-refit`, early stopping on the 10%
#                            validation carve, as a user who asks for one fit
#   RMSE_MODELS="knn"        models of the 25M RMSE cells (default: none):
#                            `evaluate --repeats 1 --no-refit`, the same fit
#                            on the 90% training part, scored on the 10% test
#   PRESETS="default large"  presets of the one-fit and RMSE cells
#   TIMEOUT=900              seconds before a cell is given up (status timeout)
#   WORK=/tmp/movierec-scaling  data and cells (large: keep it out of the repo)
#   BIN=target/release/movierec
#   REPORT_ONLY=1            only render the files from the cells there are
# Synthetic folders are written once under $WORK/data and reused.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${MODELS:-"bias knn mf-sgd autoencoder ease ials"}
SIZES=${SIZES:-"1 5 10 25"}
NETFLIX=${NETFLIX:-1}
TRAIN_MODELS=${TRAIN_MODELS:-}
RMSE_MODELS=${RMSE_MODELS:-}
PRESETS=${PRESETS:-"default large"}
FIT_PRESETS=${FIT_PRESETS:-default}
TIMEOUT=${TIMEOUT:-900}
WORK=${WORK:-/tmp/movierec-scaling}
BIN=${BIN:-target/release/movierec}
REPORT_ONLY=${REPORT_ONLY:-0}
CELLS="$WORK/cells"
mkdir -p "$CELLS" "$WORK/data"

if [ ! -x "$BIN" ]; then
    cargo build --release -p movierec-cli
fi
if [ ! -x /usr/bin/time ]; then
    echo "scaling.sh: /usr/bin/time (GNU time) is needed for peak memory" >&2
    exit 1
fi

# Figures of a /usr/bin/time -v log: wall seconds, user + system seconds, peak KB.
wall_of() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }
cpu_of() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$1"; }
rss_of() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

# The synthetic folder of SIZE million ratings in SHAPE (ml25m or netflix).
dataset() {
    local size=$1 shape=$2 dir users items ratings
    dir="$WORK/data/$shape-${size}m"
    if [ "$shape" = netflix ]; then
        users=$((480189 * size / 100)) items=$((17770 * size / 100)) ratings=$((size * 1000000))
    else
        users=$((162541 * size / 25)) items=$((59047 * size / 25))
        ratings=$((size * 1000000))
        [ "$size" = 25 ] && ratings=25000095
    fi
    if [ ! -f "$dir/.done" ]; then
        rm -rf "$dir"
        local load1 log="$WORK/synth-$shape-${size}m.log"
        load1=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -v "$BIN" synth --users "$users" --items "$items" --ratings "$ratings" \
            --out "$dir" --quiet >"$log.out" 2>"$log"
        # The writer's own cell: wall, CPU and peak memory of synth.
        printf 'synth\tsynth\tdefault\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tok\t-\n' \
            "$ratings" "$users" "$items" "$(wall_of "$log")" "$(cpu_of "$log")" "$(rss_of "$log")" \
            "$load1" >"$CELLS/synth-$shape-${size}m.tsv"
        touch "$dir/.done"
    fi
    echo "$dir $users $items $ratings"
}

# One cell: KIND (fit, train or rmse), MODEL, PRESET, SIZE, SHAPE.
cell() {
    local kind=$1 model=$2 preset=$3 size=$4 shape=$5
    local file="$CELLS/$kind-$model-$preset-$shape-${size}m.tsv"
    [ -f "$file" ] && return 0
    [ "$REPORT_ONLY" = 1 ] && return 0
    read -r dir users items ratings < <(dataset "$size" "$shape")
    local load1 log status=ok rmse=- preset_args=()
    [ "$preset" != default ] && preset_args=(--preset "$preset")
    load1=$(cut -d' ' -f1 /proc/loadavg)
    log="$WORK/$kind-$model-$preset-$shape-${size}m.log"
    echo "scaling.sh: $kind $model ($preset) at $ratings ratings (load $load1)" >&2
    local cmd
    if [ "$kind" = fit ]; then
        cmd=("$BIN" train --data "$dir" --model "$model" "${preset_args[@]}" --no-refit
            --validation-fraction 0 --out "$WORK/model.mrec" --quiet)
    elif [ "$kind" = train ]; then
        cmd=("$BIN" train --data "$dir" --model "$model" "${preset_args[@]}" --no-refit
            --out "$WORK/model.mrec" --quiet)
    else
        cmd=("$BIN" evaluate --data "$dir" --model "$model" "${preset_args[@]}" --repeats 1
            --no-refit --json --out "$WORK/rmse.json" --quiet)
    fi
    set +e
    timeout "$TIMEOUT" /usr/bin/time -v "${cmd[@]}" >"$log.out" 2>"$log"
    local rc=$?
    set -e
    [ $rc = 124 ] && status=timeout
    [ $rc != 0 ] && [ $rc != 124 ] && status=failed
    local wall cpu rss
    wall=$(wall_of "$log")
    cpu=$(cpu_of "$log")
    rss=$(rss_of "$log")
    if [ "$kind" = rmse ] && [ $status = ok ]; then
        # The test RMSE of the one repeat (the file also holds per-epoch
        # validation RMSEs).
        rmse=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["models"][0]["mean"]["rmse"])' "$WORK/rmse.json" || echo -)
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$model" "$preset" \
        "$ratings" "$users" "$items" "${wall:-0}" "${cpu:-0}" "${rss:-0}" "$load1" "$status" "$rmse" \
        >"$file"
    rm -f "$WORK/model.mrec"
}

NOT_RUN=()
for size in $SIZES; do
    for model in $MODELS; do
        for preset in $FIT_PRESETS; do
            cell fit "$model" "$preset" "$size" ml25m
        done
    done
done
if [ "$NETFLIX" = 1 ]; then
    cell fit mf-sgd default 100 netflix
elif [ "$NETFLIX" = synth ] && [ "$REPORT_ONLY" != 1 ]; then
    dataset 100 netflix >/dev/null
fi
for model in $TRAIN_MODELS; do
    for preset in $PRESETS; do
        cell train "$model" "$preset" 25 ml25m
    done
done
for model in $RMSE_MODELS; do
    for preset in $PRESETS; do
        cell rmse "$model" "$preset" 25 ml25m
    done
done

# What the full grid has that the cells folder lacks.
for size in 1 5 10 25; do
    for model in bias knn mf-sgd autoencoder ease ials; do
        [ -f "$CELLS/fit-$model-default-ml25m-${size}m.tsv" ] || NOT_RUN+=(--not-run "$model at ${size}M ratings: not measured in this run")
    done
done
[ -f "$CELLS/fit-mf-sgd-default-netflix-100m.tsv" ] || NOT_RUN+=(--not-run "mf-sgd at 100M ratings (Netflix shape): not measured in this run")
for model in knn mf-sgd autoencoder; do
    for preset in default large; do
        [ -f "$CELLS/train-$model-$preset-ml25m-25m.tsv" ] || NOT_RUN+=(--not-run "one fit of $model ($preset) at 25M: not measured in this run")
    done
done
for model in knn mf-sgd autoencoder; do
    for preset in default large; do
        [ -f "$CELLS/rmse-$model-$preset-ml25m-25m.tsv" ] || NOT_RUN+=(--not-run "held-out RMSE of $model ($preset) at 25M: not measured in this run")
    done
done

"$BIN" report scaling --cells "$CELLS" --out results/scaling.md --svg results/scaling.svg \
    --command "scripts/scaling.sh (MODELS=\"$MODELS\" SIZES=\"$SIZES\" FIT_PRESETS=\"$FIT_PRESETS\" NETFLIX=$NETFLIX TRAIN_MODELS=\"$TRAIN_MODELS\" RMSE_MODELS=\"$RMSE_MODELS\" REPORT_ONLY=$REPORT_ONLY; cells cached from earlier runs of it are reused)" \
    "${NOT_RUN[@]}"
echo "scaling.sh: wrote results/scaling.md and results/scaling.svg" >&2
