#!/usr/bin/env bash
# Regenerates the README's pictures of the prompt commands (docs/*.png) with the app's own :save,
# driving the bin in line mode as a user would. Usage: tools/make-docs-images.sh [CHECKPOINT] [SEED]
# (default: checkpoints/cvae, seed 1). A private settings dir keeps `:seed` out of your settings.
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint="${1:-checkpoints/cvae}"
seed="${2:-1}"
npm run --silent build
mkdir -p docs
CVAE_REPL_CONFIG_DIR="$(mktemp -d)"
export CVAE_REPL_CONFIG_DIR
trap 'rm -rf "$CVAE_REPL_CONFIG_DIR"' EXIT
saved="$(printf '%s\n' ":seed $seed" \
  3 ':save docs/grid.png' \
  ':style' ':save docs/style.png' \
  ':morph 3 8' ':save docs/morph.png' \
  ':walk 5' ':save docs/walk.png' \
  ':recon' ':save docs/recon.png' \
  -1 | node dist/cli.js --checkpoint "$checkpoint" --render ascii --sampler fitted --scale 1 --grid 3 | grep '^saved ' || true)"
echo "$saved"
count="$(printf '%s\n' "$saved" | grep -c '^saved ' || true)"
if [ "$count" -ne 5 ]; then
  echo "expected 5 pictures, saved $count" >&2
  exit 1
fi
