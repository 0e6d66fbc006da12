import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../src/render/grid.js';
import { decode } from 'sixel';
import { detectRenderMode, imageBox, pickRender, renderGrid, resolveRenderMode, shownModes, sixelImage, type RenderedGrid } from '../src/render/terminal.js';
import { fakeDigit } from './fake-generator.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const nine = Array.from({ length: 9 }, (_, i) => fakeDigit(3, i));
/** Noise does not compress: its PNG needs several protocol chunks. */
const noise = Array.from({ length: 9 }, (_, i) => ({ width: 28, height: 28, pixels: Float32Array.from({ length: 784 }, (_, j) => ((j * 7919 + i * 104729) % 997) / 997) }));
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

test('detection: kitty, WezTerm, Konsole, Ghostty -> kitty; iTerm2, VS Code -> iterm; else blocks; NO_COLOR / dumb -> ascii', () => {
  const mode = (env: Record<string, string>, isTTY = true) => detectRenderMode({ env, isTTY });
  assert.equal(mode({ TERM: 'xterm-kitty' }), 'kitty');
  assert.equal(mode({ TERM: 'xterm-256color', KITTY_WINDOW_ID: '1' }), 'kitty');
  assert.equal(mode({ TERM_PROGRAM: 'WezTerm' }), 'kitty');
  assert.equal(mode({ TERM: 'xterm-256color', WEZTERM_PANE: '0' }), 'kitty');
  assert.equal(mode({ KONSOLE_VERSION: '230800' }), 'kitty');
  assert.equal(mode({ KONSOLE_VERSION: '211200' }), 'blocks'); // before 22.04: no graphics
  assert.equal(mode({ TERM: 'xterm-ghostty' }), 'kitty');
  assert.equal(mode({ TERM: 'xterm-256color', GHOSTTY_RESOURCES_DIR: '/usr/share/ghostty' }), 'kitty');
  assert.equal(mode({ TERM_PROGRAM: 'iTerm.app', TERM_PROGRAM_VERSION: '3.5.11' }), 'iterm');
  assert.equal(mode({ TERM_PROGRAM: 'iTerm.app', TERM_PROGRAM_VERSION: '3.6.2' }), 'iterm'); // claims kitty too; its own protocol is reliable
  assert.equal(mode({ TERM_PROGRAM: 'vscode', TERM_PROGRAM_VERSION: '1.95.3' }), 'iterm');
  assert.equal(mode({ TERM_PROGRAM: 'vscode', TERM_PROGRAM_VERSION: '1.79.0' }), 'blocks'); // images from 1.80
  assert.equal(mode({ LC_TERMINAL: 'iTerm2' }), 'iterm'); // ssh from iTerm2
  assert.equal(mode({ TERM: 'xterm-256color' }), 'blocks');
  assert.equal(mode({ TERM: 'xterm-kitty', TMUX: '/tmp/tmux-0/default,1,0' }), 'blocks'); // tmux eats graphics
  assert.equal(mode({ TERM: 'screen-256color', LC_TERMINAL: 'iTerm2' }), 'blocks');
  assert.equal(mode({ TERM: 'xterm-kitty' }, false), 'blocks'); // never send graphics into a pipe
  assert.equal(mode({ TERM: 'xterm-kitty', NO_COLOR: '1' }), 'ascii');
  assert.equal(mode({ TERM: 'dumb' }), 'ascii');
  assert.equal(resolveRenderMode('iterm', { env: { TERM: 'dumb' }, isTTY: false }), 'iterm'); // explicit wins
});

test('detection: sixel in foot, mlterm and Windows Terminal; not in plain xterm (a VT340 xterm does not say so), tmux or a pipe; kitty and iTerm2 win where both are spoken', () => {
  const mode = (env: Record<string, string>, isTTY = true) => detectRenderMode({ env, isTTY });
  assert.equal(mode({ TERM: 'foot' }), 'sixel');
  assert.equal(mode({ TERM: 'foot-extra' }), 'sixel');
  assert.equal(mode({ TERM: 'mlterm' }), 'sixel');
  assert.equal(mode({ TERM: 'xterm-256color', WT_SESSION: '5f3c0e1a-0000-4000-8000-000000000000' }), 'sixel');
  assert.equal(mode({ TERM: 'xterm', XTERM_VERSION: 'XTerm(379)' }), 'blocks');
  assert.equal(mode({ TERM: 'foot', TMUX: '/tmp/tmux-0/default,1,0' }), 'blocks');
  assert.equal(mode({ TERM: 'foot' }, false), 'blocks');
  assert.equal(mode({ KONSOLE_VERSION: '230800' }), 'kitty'); // speaks sixel too
  assert.equal(mode({ TERM_PROGRAM: 'vscode', TERM_PROGRAM_VERSION: '1.95.3' }), 'iterm'); // speaks sixel too
  assert.deepEqual([...shownModes({ env: { KONSOLE_VERSION: '230800' }, isTTY: true })].sort(), ['ascii', 'blocks', 'iterm', 'kitty', 'sixel']);
});

test('a forced mode the terminal does not say it shows gets one hint line; a detected or shown one gets none', () => {
  const kitty = { env: { TERM: 'xterm-kitty' }, isTTY: true };
  assert.deepEqual(pickRender('auto', kitty), { mode: 'kitty', how: 'auto' });
  assert.deepEqual(pickRender('kitty', kitty), { mode: 'kitty', how: 'asked' });
  assert.deepEqual(pickRender('blocks', kitty), { mode: 'blocks', how: 'asked' });
  const iterm = pickRender('iterm', kitty);
  assert.equal(iterm.mode, 'iterm');
  assert.equal(iterm.hint, 'hint: --render iterm was asked for, but nothing says this terminal shows iTerm2 inline images; if the pictures are missing or garbled, --render auto picks kitty here');
  assert.match(pickRender('sixel', { env: { TERM: 'xterm' }, isTTY: true }).hint ?? '', /^hint: --render sixel was asked for, but nothing says this terminal shows sixel graphics; .* picks blocks here$/);
  assert.match(pickRender('kitty', { env: { TERM: 'xterm-kitty', TMUX: '/tmp/t,1,0' }, isTTY: true }).hint ?? '', /tmux and screen pass no graphics through/);
  assert.equal(pickRender('kitty', { env: { TERM: 'xterm' }, isTTY: false }).hint, undefined); // a pipe gets what was asked for
  for (const pick of [iterm, pickRender('kitty', { env: { TERM: 'xterm' }, isTTY: true })]) assert.ok(!pick.hint!.includes('\n'));
});

test('image boxes: one dimension that fits width and height for any cell shape from 1.6 to 2.5 tall', () => {
  const cases: [number, number, number, number][] = [
    [88, 88, 80, 24],
    [88, 88, 200, 60],
    [298, 28, 80, 24],
    [298, 118, 80, 24],
    [58, 28, 30, 10],
    [88, 88, 40, 6],
  ];
  for (const [w, h, columns, rows] of cases) {
    const box = imageBox({ width: w, height: h }, columns, rows);
    const aspect = w / h;
    const where = `${w}x${h} px in ${columns}x${rows}`;
    for (const cell of [1.6, 2, 2.5]) {
      // What the terminal shows when it computes the other dimension from the image.
      const shown = box.fit === 'columns' ? { columns: box.columns, rows: box.columns / aspect / cell } : { rows: box.rows, columns: box.rows * aspect * cell };
      assert.ok(shown.columns <= columns - 1, `${where}: ${shown.columns} columns at cell aspect ${cell}`);
      assert.ok(shown.rows <= Math.max(1, rows - 3) + 1e-9, `${where}: ${shown.rows} rows at cell aspect ${cell}`);
    }
  }
  assert.equal(imageBox({ width: 88, height: 88 }, 80, 24).fit, 'rows');
  assert.equal(imageBox({ width: 298, height: 28 }, 80, 24).fit, 'columns');
});

test('sixel: the bytes decode (with the sixel package) to the image, quantised to 16 gray levels, at a size that fits the window', () => {
  const grid = payload(renderGrid(nine, { mode: 'sixel', columns: 100, rows: 40 }));
  assert.match(grid.data, /^\x1bP0;1;q"1;1;352;352#0;2;0;0;0/);
  assert.ok(grid.data.endsWith('\x1b\\'));
  const body = grid.data.slice(grid.data.indexOf('q') + 1, -2);
  const image = decode(body);
  assert.deepEqual([image.width, image.height], [352, 352]);
  assert.deepEqual(grid.png, { width: 352, height: 352 });
  // Against the source: every decoded pixel is the source pixel's level (tile 4, the middle one, scaled by 4).
  const source = nine[4]!;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      // Sixel colours are percentages, so a level of 0-255 comes back through round(v / 255 * 100).
      const level = Math.round((Math.round(Math.min(1, source.pixels[y * 28 + x]!) * 15) * 255) / 15);
      const want = Math.round((Math.round((level / 255) * 100) * 255) / 100);
      const px = (30 + x) * 4 + 1;
      const py = (30 + y) * 4 + 2;
      assert.equal(image.data32[py * image.width + px]! & 0xff, want, `pixel ${x},${y}`);
    }
  }
  // A short window: a smaller whole factor, so the picture fits 24 rows of 12-pixel cells.
  const small = payload(renderGrid(nine, { mode: 'sixel', columns: 80, rows: 24 }));
  assert.deepEqual(small.png, { width: 176, height: 176 });
  assert.ok(small.png.height <= (24 - 3) * 12);
  // A direct check of the encoder's output too: only sixel characters, colour selections, repeats and line controls.
  assert.match(body, /^"1;1;352;352(#\d+;2;\d+;\d+;\d+)+[#!?-~$\-0-9;\n]*$/);
  assert.equal(sixelImage({ width: 1, height: 1, pixels: Float32Array.of(1) }).startsWith("\x1bP0;1;q"), true);
});

test('detection leaves process.env as it was', () => {
  const before = process.env;
  detectRenderMode({ env: { TERM: 'xterm-kitty' }, isTTY: true });
  assert.equal(process.env, before);
});

function payload(grid: RenderedGrid): Extract<RenderedGrid, { kind: 'payload' }> {
  assert.equal(grid.kind, 'payload');
  return grid as Extract<RenderedGrid, { kind: 'payload' }>;
}

test('kitty: APC chunks of at most 4096 base64 bytes that join into a PNG of the upscaled grid', () => {
  const grid = payload(renderGrid(noise, { mode: 'kitty', columns: 120 }));
  const chunks = [...grid.data.matchAll(/\x1b_G([^;]*);([A-Za-z0-9+/=]*)\x1b\\/g)];
  assert.ok(chunks.length > 1, 'a 3x3 grid needs several chunks');
  assert.equal(chunks.map((m) => m[0]).join(''), grid.data, 'nothing outside the escapes');
  // Only the width: kitty computes the rows from the image, so its aspect ratio is kept.
  assert.match(chunks[0]![1]!, /^a=T,f=100,q=2,c=\d+,m=1$/);
  assert.ok(chunks.slice(1, -1).every((m) => m[1] === 'm=1'));
  assert.equal(chunks.at(-1)![1], 'm=0');
  assert.ok(chunks.every((m) => m[2]!.length <= 4096));
  const png = decodePng(Buffer.from(chunks.map((m) => m[2]).join(''), 'base64'));
  // 3 tiles of 28 + 2 gaps of 2 = 88 px, upscaled 5x nearest-neighbour.
  assert.deepEqual([png.width, png.height], [440, 440]);
  assert.deepEqual([grid.png.width, grid.png.height], [440, 440]);
  // Nearest-neighbour: every 5x5 block is one value (crisp strokes, no blur).
  for (let y = 0; y < 440; y += 5) for (let x = 0; x < 440; x += 5) assert.equal(png.pixels[(y + 4) * 440 + x + 4], png.pixels[y * 440 + x]);
  assert.ok(grid.cells.columns <= 119);
});

test('iTerm2: one OSC 1337 inline image whose size field and payload match', () => {
  const grid = payload(renderGrid(nine, { mode: 'iterm', columns: 100 }));
  const m = /^\x1b\]1337;File=inline=1;size=(\d+);width=(\d+);height=(\d+);preserveAspectRatio=1:([A-Za-z0-9+/=]+)\x07$/.exec(grid.data);
  assert.ok(m !== null);
  const bytes = Buffer.from(m[4]!, 'base64');
  assert.equal(Number(m[1]), bytes.length);
  const png = decodePng(bytes);
  assert.deepEqual([png.width, png.height], [440, 440]);
});

test('image grids fit narrow terminals in cells', () => {
  const grid = payload(renderGrid(nine, { mode: 'kitty', columns: 30 }));
  assert.equal(grid.cells.columns, 29);
});

test('blocks: one column per pixel, two pixel rows per line, 24-bit colours, a gray gap between tiles', () => {
  const grid = renderGrid(nine, { mode: 'blocks', columns: 120 });
  assert.ok(grid.kind === 'text');
  assert.equal(grid.lines.length, 44);
  assert.ok(grid.lines.every((l) => [...stripAnsi(l)].length === 88 && /^▀+$/.test(stripAnsi(l))));
  assert.ok(grid.lines.every((l) => l.endsWith('\x1b[0m')));
  assert.match(grid.lines[0]!, /^\x1b\[38;2;0;0;0m\x1b\[48;2;0;0;0m/);
  // Column 28 is the gap: 0.3 gray = 77.
  assert.match(grid.lines[0]!, /\x1b\[38;2;77;77;77m/);
  assert.equal(grid.note, undefined);
});

test('blocks on a narrow terminal: shrunk by an integer factor, and it says so', () => {
  const grid = renderGrid(nine, { mode: 'blocks', columns: 60 });
  assert.ok(grid.kind === 'text');
  assert.ok(grid.lines.every((l) => [...stripAnsi(l)].length === 44));
  assert.match(grid.note ?? "", /^\(shown at 1\/2 size; 88 columns show it in full\)$/);
});

test('ascii: plain characters, digits visible as dense characters on blanks', () => {
  const grid = renderGrid([fakeDigit(1, 0)], { mode: 'ascii', columns: 80 });
  assert.ok(grid.kind === 'text');
  assert.equal(grid.lines.length, 14);
  assert.ok(grid.lines.every((l) => !l.includes('\x1b')));
  assert.ok(grid.lines.some((l) => l.includes('@')));
});

const hasScript = spawnSync('script', ['--version']).status === 0;

/** Runs the interactive app in a pseudo-terminal (util-linux `script`) with a terminal's environment; types `3`, then `-1`. */
async function bytesWrittenIn(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-pty-'));
  const base = { ...process.env };
  for (const key of ['TMUX', 'STY', 'CI', 'CONTINUOUS_INTEGRATION', 'KITTY_WINDOW_ID', 'KITTY_PID', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION', 'LC_TERMINAL', 'NO_COLOR', 'WEZTERM_PANE', 'WEZTERM_UNIX_SOCKET', 'KONSOLE_VERSION', 'GHOSTTY_RESOURCES_DIR']) delete base[key];
  // A fresh pty has no size; give it a terminal's, or Ink lays out for one column.
  const child = spawn('script', ['-qfec', `stty cols 120 rows 50; exec '${process.execPath}' --import tsx src/cli.tsx`, '/dev/null'], {
    cwd: root,
    env: { ...base, CVAE_REPL_FAKE_GENERATOR: '1', CVAE_REPL_CONFIG_DIR: configDir, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const until = async (check: () => boolean, what: string): Promise<void> => {
    const start = Date.now();
    while (!check()) {
      if (Date.now() - start > 30_000) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(out.slice(-300))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await until(() => out.includes('input digit to generate:'), 'the prompt');
    child.stdin.write('3\r');
    await until(() => (out.match(/input digit to generate:/g) ?? []).length >= 2, 'the grid');
    child.stdin.write('-1\r');
    const code = await closed;
    return { code, out };
  } finally {
    child.kill();
  }
}

test('protocol: in a kitty terminal the app writes kitty graphics whose payload is a PNG of the grid', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
  const { code, out } = await bytesWrittenIn({ TERM: 'xterm-kitty' });
  assert.equal(code, 0);
  const chunks = [...out.matchAll(/\x1b_G([^;]*);([A-Za-z0-9+/=]*)\x1b\\/g)];
  assert.ok(chunks.length >= 1);
  assert.match(chunks[0]![1]!, /^a=T,f=100,/);
  const png = decodePng(Buffer.from(chunks.map((m) => m[2]).join(''), 'base64'));
  assert.deepEqual([png.width, png.height], [440, 440]);
  assert.ok(!stripAnsi(out).includes('▀'), 'no half-blocks when the terminal shows images');
});

test('protocol: in iTerm2 the app writes an OSC 1337 inline image whose payload is a PNG of the grid', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
  const { code, out } = await bytesWrittenIn({ TERM: 'xterm-256color', TERM_PROGRAM: 'iTerm.app', TERM_PROGRAM_VERSION: '3.5.11' });
  assert.equal(code, 0);
  const m = /\x1b\]1337;File=inline=1;size=(\d+);[^:]*:([A-Za-z0-9+/=]+)\x07/.exec(out);
  assert.ok(m !== null);
  const bytes = Buffer.from(m[2]!, 'base64');
  assert.equal(bytes.length, Number(m[1]));
  const png = decodePng(bytes);
  assert.deepEqual([png.width, png.height], [440, 440]);
});
