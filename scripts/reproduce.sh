#!/bin/sh
# Reruns the README's accuracy claims on the CPU backend and prints each result beside the
# README's figure (`make reproduce`; not part of CI: about 30 minutes on 2 cores).
#
#   claim                                  the README's figure and the command behind it
#   Net, 1 epoch                           0.87   (make demo: --model net, 1 epoch)
#   Net, 3 epochs                          0.891  (make demo EPOCHS=3; PyTorch: 0.889)
#   VGG-small-bn, 5 epochs, one-cycle      0.9317 (--lr 0.1 --momentum 0.9 --weight-decay 5e-4)
#
# The Net's recipe has no learning-rate schedule, so epoch 1 of the three-epoch run is the
# one-epoch run; its test accuracy is read from the same metrics.csv. Each run folder is
# runs/reproduce/<name>; the figure printed is the best test accuracy in its metrics.csv.
#
# Settings (environment):
#   FOVEA=path            the fovea binary (default target/release/fovea)
#   REPRODUCE_OUT=dir     where the run folders go (default runs/reproduce)
#   REPRODUCE_SMOKE=1     a quick end-to-end check of this script: 640 training and 500 test
#                         images, one epoch per run; its numbers prove nothing about the claims
set -eu

FOVEA=${FOVEA:-target/release/fovea}
OUT=${REPRODUCE_OUT:-runs/reproduce}
SMOKE=${REPRODUCE_SMOKE:-0}

if [ ! -x "$FOVEA" ]; then
    echo "reproduce: $FOVEA is not built; run \`cargo build --release -p fovea-cli\` (or set FOVEA=)" >&2
    exit 1
fi

# train NAME EPOCHS ARGS...: one run on the CPU backend into $OUT/NAME.
train() {
    name=$1
    epochs=$2
    shift 2
    limits=""
    if [ "$SMOKE" = 1 ]; then
        epochs=1
        limits="--train-limit 640 --test-limit 500"
    fi
    echo "== $name: fovea train $* --epochs $epochs --device cpu $limits" >&2
    # shellcheck disable=SC2086 # $limits is a list of words
    "$FOVEA" train "$@" --epochs "$epochs" --device cpu $limits \
        --out "$OUT/$name" --overwrite >&2
}

# test_acc CSV [EPOCH]: the best test accuracy in a metrics.csv, or that of one epoch.
test_acc() {
    awk -F, -v want="${2:-}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "test_acc") col = i; next }
        col == "" { exit 2 }
        want == "" && (best == "" || $col + 0 > best + 0) { best = $col }
        want != "" && $1 == want { best = $col }
        END {
            if (col == "") { print "no test_acc column in " FILENAME > "/dev/stderr"; exit 2 }
            if (best == "") { print "no such epoch in " FILENAME > "/dev/stderr"; exit 2 }
            printf "%.4f\n", best
        }' "$1"
}

train net-3-epochs 3 --model net
train vgg-small-bn-5-epochs 5 --model vgg-small-bn --lr 0.1 --momentum 0.9 \
    --weight-decay 5e-4 --schedule onecycle

net=$OUT/net-3-epochs/metrics.csv
vgg=$OUT/vgg-small-bn-5-epochs/metrics.csv
[ "$SMOKE" = 1 ] && echo "(smoke run: 640 training images, 1 epoch; not comparable with the README)"
printf '%-44s %-8s %s\n' "claim" "README" "measured"
printf '%-44s %-8s %s\n' "Net, 1 epoch (make demo)" "0.87" "$(test_acc "$net" 1)"
printf '%-44s %-8s %s\n' "Net, 3 epochs (make demo EPOCHS=3)" "0.891" "$(test_acc "$net")"
printf '%-44s %-8s %s\n' "PyTorch, Net, 3 epochs (for reference)" "0.889" "-"
printf '%-44s %-8s %s\n' "VGG-small-bn, 5 epochs, one-cycle" "0.9317" "$(test_acc "$vgg")"
