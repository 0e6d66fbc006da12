/**
 * Hardening (issue 7): terminals. A window narrower than the grid, a resize during the session,
 * NO_COLOR, TERM=dumb, and no terminal on stdout, in a real terminal (tmux) with the fake generator;
 * line mode with COLUMNS=20 through a pipe. Skipped, saying so, only when tmux is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBin } from './run-bin.js';
import { shellQuote, skipWithoutTmux as skip, startApp as startTmuxApp, type TmuxAppOptions } from './tmux-session.js';

const STACK_FRAME = /^\s+at .+[:(]/m;
const cells = (line: string): number => [...line].length;

/** The app with the fake generator: these tests are about the terminal, not the model. */
const startApp = (options: TmuxAppOptions) => startTmuxApp({ ...options, env: { CVAE_REPL_FAKE_GENERATOR: '1', ...options.env } });

/** Lines of the last grid on the screen drawn with `chars` (above the last prompt). */
function lastGrid(screen: string, chars: RegExp): string[] {
  const lines = screen.split('\n');
  let end = lines.length - 1;
  while (end >= 0 && !lines[end]!.startsWith('input digit to')) end--;
  let i = end - 1;
  while (i >= 0 && !chars.test(lines[i]!)) i--; // the shrink note, wrapped over a few lines
  const grid: string[] = [];
  for (; i >= 0 && chars.test(lines[i]!); i--) grid.unshift(lines[i]!);
  return grid;
}

const BLOCKS = /^[▀ ]+$/u;

test('tmux: a 20-column window gets the grid scaled down to fit, with a note; the app stays alive and exits 0', { skip }, async () => {
  const app = startApp({ columns: 20 });
  try {
    await app.until(() => app.prompts() >= 1, 'the prompt');
    app.send('3', 'Enter');
    await app.until(() => app.prompts() >= 2, 'the grid and the next prompt');
    for (const line of app.capture(false, false).split('\n')) assert.ok(cells(line) <= 20, `a line wider than the window: ${JSON.stringify(line)}`);
    const screen = app.capture();
    const grid = lastGrid(screen, BLOCKS);
    // 88 pixel columns shrunk by ceil(88 / 20) = 5: 17 columns, 17 pixel rows in 9 lines.
    assert.equal(grid.length, 9, screen);
    assert.ok(grid.every((l) => cells(l) === 17));
    assert.ok(screen.replace(/\s+/g, ' ').includes('(shown at 1/5 size; 88 columns show it in full)'), 'the note, word-wrapped by Ink');
    assert.equal(app.exitCode(), undefined);
    app.send('--', '-1', 'Enter');
    await app.until(() => app.exitCode() !== undefined, 'the exit');
    assert.equal(app.exitCode(), '0');
    assert.ok(!STACK_FRAME.test(app.capture()));
  } finally {
    app.close();
  }
});

test('tmux: resizing the window during the session: each grid fits the width it is drawn at', { skip }, async () => {
  const app = startApp({ columns: 120 });
  try {
    await app.until(() => app.prompts() >= 1, 'the prompt');
    app.send('3', 'Enter');
    await app.until(() => app.prompts() >= 2, 'the first grid');
    assert.ok(lastGrid(app.capture(), BLOCKS).every((l) => cells(l) === 88));
    app.resize(40);
    await new Promise((resolve) => setTimeout(resolve, 300));
    app.send('5', 'Enter');
    await app.until(() => app.prompts() >= 3, 'the grid at 40 columns');
    // ceil(88 / 40) = 3: 29 columns.
    assert.ok(lastGrid(app.capture(), BLOCKS).every((l) => cells(l) === 29), app.capture());
    app.resize(100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    app.send('7', 'Enter');
    await app.until(() => app.prompts() >= 4, 'the grid at 100 columns');
    const full = lastGrid(app.capture(), BLOCKS);
    assert.equal(full.length, 44);
    assert.ok(full.every((l) => cells(l) === 88));
    app.send('--', '-1', 'Enter');
    await app.until(() => app.exitCode() !== undefined, 'the exit');
    assert.equal(app.exitCode(), '0');
  } finally {
    app.close();
  }
});

for (const [name, env] of [['NO_COLOR=1', { NO_COLOR: '1' }], ['TERM=dumb', { TERM: 'dumb' }]] as const) {
  test(`tmux: ${name} draws a plain ASCII grid, no colour escapes, and the prompt works`, { skip }, async () => {
    const app = startApp({ columns: 120, env });
    try {
      await app.until(() => app.prompts() >= 1, 'the prompt');
      app.send('8', 'Enter');
      await app.until(() => app.prompts() >= 2, 'the grid');
      // ASCII lines end where the ink does (trailing background is trimmed), so bound them, do not count them.
      const grid = app.capture().split('\n').filter((l) => /^[ .:\-=+*#%@]*[#%@][ .:\-=+*#%@]*$/.test(l));
      assert.ok(grid.length >= 10 && grid.every((l) => cells(l) <= 88), app.capture());
      assert.ok(!/\x1b\[[0-9;]*[34]8;2;/.test(app.capture(true)), 'no 24-bit colour');
      app.send('abc', 'Enter');
      await app.until(() => app.capture().includes('error: expected an integer'), 'the error');
      app.send('--', '-1', 'Enter');
      await app.until(() => app.exitCode() !== undefined, 'the exit');
      assert.equal(app.exitCode(), '0');
    } finally {
      app.close();
    }
  });
}

test('tmux: stdout redirected to a file (typing at a terminal, no terminal to draw on): line mode, the file holds the session', { skip }, async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-hardening-out-')), 'session.txt');
  const app = startApp({ columns: 100, shellSuffix: ` > ${shellQuote(out)}` });
  try {
    await app.until(() => app.capture().includes('cvae-repl'), 'the header on stderr');
    app.send('2', 'Enter');
    await app.until(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').split('input digit to generate:').length >= 3, 'the grid in the file');
    app.send('--', '-7', 'Enter');
    await app.until(() => app.exitCode() !== undefined, 'the exit');
    assert.equal(app.exitCode(), '0');
    const text = fs.readFileSync(out, 'utf8');
    assert.ok(text.endsWith('-7\n-7\n'), JSON.stringify(text.slice(-60)));
    assert.equal(text.split('\n').filter((l) => /^(\x1b\[[0-9;]*m|▀)+$/.test(l)).length, 44, 'one 3x3 grid of half-blocks');
    assert.ok(!STACK_FRAME.test(app.capture()));
  } finally {
    app.close();
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
});

test('line mode through a pipe with COLUMNS=20: the grid is scaled to 20 columns with the note', async () => {
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-hardening-cols-'));
  const { code, out } = await runBin(['--render', 'ascii'], { CVAE_REPL_FAKE_GENERATOR: '1', CVAE_REPL_CONFIG_DIR: config, COLUMNS: '20' }, '4\n-1\n');
  fs.rmSync(config, { recursive: true, force: true });
  assert.equal(code, 0);
  const lines = out.split('\n');
  const grid = lines.filter((l) => /^[ .:\-=+*#%@]*[:\-=+*#%@][ .:\-=+*#%@]*$/.test(l));
  assert.ok(grid.length >= 3, out);
  assert.ok(lines.every((l) => cells(l) <= 50), 'no line wider than the note');
  assert.ok(grid.every((l) => cells(l) <= 17), 'the grid fits 20 columns');
  assert.match(out, /\(shown at 1\/5 size; 88 columns show it in full\)/);
});
