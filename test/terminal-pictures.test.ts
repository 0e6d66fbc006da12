/**
 * Pictures in real terminals (issue 15), byte by byte through a pseudo-terminal: the order of images
 * and echoed lines in a paste, image boxes that fit the window's height, kitty's aspect ratio, the
 * hint for a forced mode, wide pictures in blocks mode, the header's render mode, and sixel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from 'sixel';
import { hasScript, ptySession } from './pty-session.js';

const skip = hasScript ? false : 'util-linux script is not installed';
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
/** The app's text as a person reads it (the bytes are kept as latin1, so escapes and base64 stay intact). */
const text = (out: string): string => stripAnsi(Buffer.from(out, 'latin1').toString('utf8'));
/** Sixel colours are percentages: the gray a terminal shows for a level of 0-255. */
const viaPercent = (v: number): number => Math.round((Math.round((v / 255) * 100) * 255) / 100);
const ECHO_QUIT = 'input digit to generate: -1';

/** The first kitty control block (`a=T,...`) as a map. */
function kittyControl(out: string): Map<string, string> {
  const m = /\x1b_G(a=T[^;]*);/.exec(out);
  assert.ok(m !== null, 'a kitty image');
  return new Map(m[1]!.split(',').map((kv) => kv.split('=') as [string, string]));
}

test('kitty, 80x24, a pasted "3\\n-1\\n": the grid comes before the echo of -1, its box is one dimension (r=) within the rows, and the header says render kitty (auto)', { skip }, async () => {
  const { code, out } = await ptySession({ columns: 80, rows: 24, env: { TERM: 'xterm-kitty' }, steps: [{ send: '3\r-1\r' }] });
  assert.equal(code, 0);
  const image = out.indexOf('\x1b_G');
  const quit = out.indexOf(ECHO_QUIT);
  assert.ok(image !== -1 && quit !== -1);
  assert.ok(image < quit, 'the 3s are drawn before the line that quits');
  assert.ok(out.lastIndexOf('\x1b_G') < quit, 'every chunk of the image, too');
  const control = kittyControl(out);
  // Only one of c and r: kitty computes the other from the image, so the picture keeps its aspect ratio.
  assert.ok(control.has('c') !== control.has('r'), `one dimension, got ${[...control.keys()].join(',')}`);
  // A square grid in a 24-row window: the height limits, so rows are given and leave room for the echo and the prompt.
  assert.ok(control.has('r'));
  assert.ok(Number(control.get('r')) <= 24 - 3, `r=${control.get('r')} in 24 rows`);
  assert.match(text(out), /backend cpu · sampler fitted · render kitty \(auto\)/);
  assert.ok(!out.includes('hint: --render'), 'no hint when the mode was detected');
});

test('kitty, 200x60 (room to spare): the width limits, c= only, no wider than 60 columns', { skip }, async () => {
  const { code, out } = await ptySession({ columns: 200, rows: 60, env: { TERM: 'xterm-kitty' }, steps: [{ send: '3\r-1\r' }] });
  assert.equal(code, 0);
  const control = kittyControl(out);
  assert.ok(control.has('c') && !control.has('r'));
  assert.ok(Number(control.get('c')) <= 60);
});

test('--render iterm in kitty: a one-line hint, and the pasted order holds for iTerm2 images; their box fits 80x24', { skip }, async () => {
  const { code, out } = await ptySession({ columns: 80, rows: 24, env: { TERM: 'xterm-kitty' }, args: ['--render', 'iterm'], steps: [{ send: '3\r-1\r' }] });
  assert.equal(code, 0);
  const hints = stripAnsi(out).split(/\r?\n/).filter((l) => l.includes('hint: --render'));
  assert.ok(hints.length >= 1);
  assert.match(hints[0]!, /^hint: --render iterm was asked for, but nothing says this terminal shows iTerm2 inline images; if the pictures are missing or garbled, --render auto picks kitty here$/);
  assert.match(stripAnsi(out), /render iterm \(as asked\)/);
  const m = /\x1b\]1337;File=inline=1;size=\d+;width=(\d+);height=(\d+);preserveAspectRatio=1:/.exec(out);
  assert.ok(m !== null);
  assert.ok(Number(m[1]) <= 79 && Number(m[2]) <= 24 - 3, `box ${m[1]}x${m[2]}`);
  assert.ok(out.indexOf('\x1b]1337;') < out.indexOf(ECHO_QUIT), 'the 3s before the line that quits');
});

test('--render kitty in a plain xterm: the hint names the mode auto would pick', { skip }, async () => {
  const { code, out } = await ptySession({ columns: 100, rows: 40, env: { TERM: 'xterm-256color' }, args: ['--render', 'kitty'], steps: [{ send: '-1\r' }] });
  assert.equal(code, 0);
  assert.match(stripAnsi(out), /hint: --render kitty was asked for, but nothing says this terminal shows kitty graphics; if the pictures are missing or garbled, --render auto picks blocks here/);
});

/** The :style picture is on the screen and the prompt is back under it. */
function styleDrawn(out: string): boolean {
  const text = Buffer.from(out, 'latin1').toString('utf8');
  const echo = text.indexOf('input digit to generate: :style');
  const last = text.lastIndexOf('▀');
  return echo !== -1 && last > echo && text.indexOf('input digit to generate:', last) !== -1;
}

test('blocks, 80 columns: :style is laid out in bands of full-size tiles that fit, not shrunk', { skip }, async () => {
  const { code, out } = await ptySession({ columns: 80, rows: 40, env: { TERM: 'xterm-256color' }, args: ['--render', 'blocks'], steps: [{ send: ':style\r' }, { send: '-1\r', after: styleDrawn }] });
  assert.equal(code, 0);
  const text = stripAnsi(Buffer.from(out, 'latin1').toString('utf8'));
  assert.match(text, /render blocks \(as asked\)/);
  assert.ok(!text.includes('(shown at 1/'), 'not shrunk');
  const rows = text.split(/\r?\n/).filter((l) => /^▀+$/.test(l));
  assert.ok(rows.length > 0);
  // 80 columns hold two 28-pixel tiles and their gap: every row of every band is 58 half-blocks.
  assert.ok(rows.every((l) => [...l].length === 58), `widths ${[...new Set(rows.map((l) => [...l].length))].join(',')}`);
  // Ten digits in bands of two: five bands.
  const bands = text.split(/\r?\n/).reduce((n, l, i, all) => n + (/^▀+$/.test(l) && !/^▀+$/.test(all[i - 1] ?? '') ? 1 : 0), 0);
  assert.equal(bands, 5);
});

test('sixel: TERM=foot picks it, and the bytes decode (with the sixel package) to the grid: 16 gray levels, tiles and gaps where they belong', { skip }, async () => {
  const { code, out } = await ptySession({ columns: 100, rows: 40, env: { TERM: 'foot' }, steps: [{ send: '3\r-1\r' }] });
  assert.equal(code, 0);
  assert.match(stripAnsi(out), /render sixel \(auto\)/);
  const m = /\x1bP([0-9;]*)q([\s\S]*?)\x1b\\/.exec(out);
  assert.ok(m !== null, 'a sixel DCS');
  assert.ok(out.indexOf('\x1bP') < out.indexOf(ECHO_QUIT));
  const image = decode(Buffer.from(m[2]!, 'latin1'));
  // 88 px grid scaled by a whole factor that fits 100x40 cells of 6x12 px: (40 - 3) * 12 / 88 -> 5, capped at 4.
  assert.deepEqual([image.width, image.height], [352, 352]);
  const gray = (x: number, y: number): number => image.data32[y * image.width + x]! & 0xff;
  const levels = new Set<number>();
  for (let i = 0; i < image.data32.length; i++) levels.add(image.data32[i]! & 0xff);
  assert.ok(levels.size > 2 && levels.size <= 16, `${levels.size} gray levels`);
  // The gap between the first two tiles (pixels 28-29, scaled by 4) is 0.3 gray (a float32) on 16 levels.
  assert.equal(gray(29 * 4, 10), viaPercent(Math.round((Math.round(Math.fround(0.3) * 15) * 255) / 15)));
  assert.equal(gray(0, 0), 0, 'MNIST background is black');
});
