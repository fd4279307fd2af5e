#!/usr/bin/env bash
# Puts Fashion-MNIST's four IDX files beside the page (`make web`): copied from the first
# folder that holds them, searched as `fovea train` searches ($FOVEA_DATA/fashion-mnist,
# $FOVEA_DATA, ./data/fashion-mnist, ./data, Debian's /usr/share/datasets/fashion-mnist).
set -euo pipefail
out=${1:?usage: web_data.sh OUT_DIR}
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
dirs=()
[ -n "${FOVEA_DATA:-}" ] && dirs+=("$FOVEA_DATA/fashion-mnist" "$FOVEA_DATA")
dirs+=(data/fashion-mnist data /usr/share/datasets/fashion-mnist)
for d in "${dirs[@]}"; do
  ok=1
  for f in $files; do [ -f "$d/$f.gz" ] || ok=0; done
  if [ "$ok" = 1 ]; then
    mkdir -p "$out"
    for f in $files; do cp -u "$d/$f.gz" "$out/"; done
    echo "Fashion-MNIST from $d in $out"
    exit 0
  fi
done
echo "Fashion-MNIST (gzipped IDX files) not found in ${dirs[*]}; run \`make setup\` or \`fovea data fetch fashion-mnist\`" >&2
exit 1
