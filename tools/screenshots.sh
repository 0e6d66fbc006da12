#!/usr/bin/env bash
# Screenshots of the app in real terminals under Xvfb (issue 15): kitty (kitty graphics), Konsole
# (kitty graphics) and xterm started as a VT340 (sixel). Each terminal runs the app through
# tools/feed-pty.py, which types the digits, so no keystrokes go through X; then
# `import -window root` takes the screen.
#
#   tools/screenshots.sh [OUT_DIR] [CHECKPOINT]     (default: /tmp/cvae-screens, checkpoints/cvae)
#   SHOTS="kitty xterm" tools/screenshots.sh docs   (only some terminals)
#
# Needs Debian's xvfb kitty konsole xterm imagemagick (and python3). Writes OUT_DIR/<terminal>.png.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/cvae-screens}"
checkpoint="${2:-checkpoints/cvae}"
shots="${SHOTS:-kitty konsole xterm}"
wait_s="${WAIT:-45}"
mkdir -p "$out"
conf="$(mktemp -d)"
display=":$(( 70 + RANDOM % 200 ))"
Xvfb "$display" -screen 0 1000x1100x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
term_pid=
cleanup() {
  [ -n "$term_pid" ] && kill "$term_pid" 2>/dev/null || true
  kill "$xvfb" 2>/dev/null || true
  rm -rf "$conf"
}
trap cleanup EXIT
export DISPLAY="$display"
for _ in $(seq 1 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.2; done

# The session shown: the header, a grid of 3s, a grid of 7s. --seed keeps it the same every run.
# From source (no build step); the terminals start in this folder, where tsx resolves.
app=(env CVAE_REPL_CONFIG_DIR="$conf" node --import tsx "$PWD/src/cli.tsx" --checkpoint "$checkpoint" --seed 1)
feed=(python3 "$PWD/tools/feed-pty.py" --pause "${PAUSE:-8}" --line 3 --line 7 --)

for shot in $shots; do
  case "$shot" in
    kitty)
      # Software OpenGL: Xvfb has no GPU.
      LIBGL_ALWAYS_SOFTWARE=1 kitty --config NONE -o font_size=10 -o remember_window_size=no \
        -o initial_window_width=1000 -o initial_window_height=1100 -o placement_strategy=top-left \
        "${feed[@]}" "${app[@]}" >/dev/null 2>&1 &
      ;;
    konsole)
      konsole --nofork --hide-menubar --hide-tabbar -p TerminalColumns=110 -p TerminalRows=58 \
        -e "${feed[@]}" "${app[@]}" >/dev/null 2>&1 &
      ;;
    xterm)
      # Sixel needs a VT340 xterm; 256 colour registers, though the app uses 16 grays.
      xterm -ti vt340 -xrm 'XTerm*numColorRegisters: 256' -xrm 'XTerm*sixelScrolling: true' \
        -geometry 110x60+0+0 -fa 'DejaVu Sans Mono' -fs 10 -bg black -fg white \
        -e "${feed[@]}" "${app[@]}" --render sixel >/dev/null 2>&1 &
      ;;
    *) echo "error: unknown terminal $shot (kitty, konsole, xterm)" >&2; exit 2 ;;
  esac
  term_pid=$!
  sleep "$wait_s"
  import -window root "$out/$shot.png"
  echo "wrote $out/$shot.png"
  kill "$term_pid" 2>/dev/null || true
  wait "$term_pid" 2>/dev/null || true
  term_pid=
done
