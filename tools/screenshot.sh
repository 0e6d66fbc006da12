#!/usr/bin/env bash
# Takes the README's screenshot (docs/session.png) of a real session: tmux runs the app in a
# 100x60 terminal, types 3, 7 and abc, and capture-pane -e is drawn to PNG by tools/capture2png.py.
# Usage: tools/screenshot.sh [CHECKPOINT] [SEED]   (needs tmux and Debian python3-pil + fonts-dejavu-core)
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint="${1:-checkpoints/cvae}"
seed="${2:-1}"
npm run --silent build
sock="cvae-shot-$$"
conf="$(mktemp -d)"
capture="$(mktemp)"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$conf" "$capture"' EXIT
tmux -L "$sock" new-session -d -x 100 -y 60 \
  "CVAE_REPL_CONFIG_DIR=$conf node dist/cli.js --checkpoint $checkpoint --seed $seed --render blocks; sleep 30"
wait_for() { # text, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    tmux -L "$sock" capture-pane -p | grep -qF "$1" && return 0
    sleep 0.1
  done
  echo "timed out waiting for: $1" >&2; exit 1
}
wait_for 'input digit to generate:' 30
for answer in 3 7 abc; do
  tmux -L "$sock" send-keys "$answer" Enter
  sleep 2
done
wait_for 'error:' 10
tmux -L "$sock" capture-pane -e -p -S -200 > "$capture"
mkdir -p docs
/usr/bin/python3 tools/capture2png.py "$capture" docs/session.png
echo "wrote docs/session.png"
