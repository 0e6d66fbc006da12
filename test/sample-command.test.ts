import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { runSampleCommand } from '../src/commands/sample.js';
import { runTrainCommand } from '../src/commands/train.js';
import { initBackend } from '../src/engine/backend.js';
import { readCheckpointMeta } from '../src/engine/checkpoint.js';
import { loadGenerator } from '../src/engine/generator.js';
import { decodePng } from '../src/render/grid.js';
import { DEFAULT_TRAIN_OPTIONS, type SampleOptions } from '../src/engine/types.js';

const root = mkdtempSync(path.join(tmpdir(), 'cvae-cmd-'));
after(() => rmSync(root, { recursive: true, force: true }));

function capture(isTTY = false): { io: { stdout: Writable & { isTTY?: boolean }; stderr: Writable }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stdout = Object.assign(new Writable({ write: (chunk, _e, cb) => ((out += String(chunk)), cb()) }), { isTTY });
  const stderr = new Writable({ write: (chunk, _e, cb) => ((err += String(chunk)), cb()) });
  return { io: { stdout, stderr }, out: () => out, err: () => err };
}

const checkpointDir = path.join(root, 'ck');
const sampleOptions = (overrides: Partial<SampleOptions> = {}): SampleOptions => ({
  digit: 3, count: 5, cols: 3, pad: 2, seed: 7, sampler: 'fitted', scale: 1, checkpointDir, out: path.join(root, 'g.png'), backend: 'wasm', ...overrides,
});

before(async () => {
  await initBackend('wasm');
});

describe('cvae-repl train', () => {
  test('trains a tiny run, prints one line per epoch and where the checkpoint is, exit 0', async () => {
    const { io, out, err } = capture();
    const code = await runTrainCommand({ ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 64, limit: 128, seed: 1, checkpointDir, backend: 'wasm' }, io);
    assert.equal(code, 0, err());
    const lines = out().trim().split('\n');
    assert.ok(lines.some((l) => /^epoch 1\/1  loss 0\.\d{5} \(recon 0\.\d{5}, kl [\d.]+\)  test recon 0\.\d{5} kl [\d.]+  \d+s  saved /.test(l)), out());
    assert.match(lines.at(-1)!, new RegExp(`^done: 1 epoch trained on wasm; checkpoint in ${checkpointDir}$`));
    assert.ok(!out().includes('\r'), 'no live batch line when stdout is not a terminal');
    // The loss curves before the last line, as plain ASCII in a pipe.
    assert.match(out(), /^loss curves, epoch 1 \(training means per epoch\)\nreconstruction, per-pixel MSE: 0\.\d{4} -> 0\.\d{4} \(test 0\.\d{4}\)$/m);
    assert.ok(/^[\x20-\x7e\n]*$/.test(out()), 'plain ASCII when piped');
    assert.equal((await readCheckpointMeta(checkpointDir)).epochsTrained, 1);
  });

  test('bad options and unreadable data are one-line errors with exit 1', async () => {
    const { io, err } = capture();
    assert.equal(await runTrainCommand({ ...DEFAULT_TRAIN_OPTIONS, epochs: 0, checkpointDir: path.join(root, 'x'), backend: 'wasm' }, io), 1);
    assert.equal(err(), 'error: epochs must be a whole number >= 1 (or 0 with resume, to only finish a trained checkpoint), got 0\n');
    const second = capture();
    assert.equal(await runTrainCommand({ ...DEFAULT_TRAIN_OPTIONS, dataDir: root, checkpointDir: path.join(root, 'x'), backend: 'wasm' }, second.io), 1);
    assert.match(second.err(), /^error: .*train-images-idx3-ubyte: not found \(nor train-images-idx3-ubyte.gz\)/);
  });
});

describe('cvae-repl sample', () => {
  test('writes a grayscale PNG grid: 28x28 tiles, row-major, cols and pad honoured, same pixels as the generator', async () => {
    const { io, out, err } = capture();
    assert.equal(await runSampleCommand(sampleOptions(), io), 0, err());
    const file = path.join(root, 'g.png');
    assert.match(out(), new RegExp(`^wrote ${file}: 5 x digit 3, 3x2 grid, 88x58 px, sampler fitted`));
    const png = decodePng(readFileSync(file));
    assert.equal(png.width, 3 * 28 + 2 * 2);
    assert.equal(png.height, 2 * 28 + 2);
    const generator = await loadGenerator(checkpointDir, 'wasm');
    const images = await generator.generate(3, 5, { seed: 7, sampler: 'fitted', scale: 1 });
    generator.dispose();
    // Tile 4 (row 1, col 1) starts at (30, 30); compare at 8-bit precision.
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      assert.equal(Math.round(png.pixels[(30 + y) * png.width + 30 + x]! * 255), Math.round(images[4]!.pixels[y * 28 + x]! * 255));
    }
    assert.equal(png.pixels[28], 0); // the gap is black
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.partial-')), []);
  });

  test('default columns are ceil(sqrt(count))', async () => {
    const { io } = capture();
    assert.equal(await runSampleCommand(sampleOptions({ count: 10, cols: undefined, out: path.join(root, 'ten.png') }), io), 0);
    const png = decodePng(readFileSync(path.join(root, 'ten.png')));
    assert.deepEqual([png.width, png.height], [4 * 28 + 3 * 2, 3 * 28 + 2 * 2]);
  });

  test('bad digit, missing checkpoint and bad --out are one-line errors; an existing file is left as it was', async () => {
    const existing = path.join(root, 'keep.png');
    writeFileSync(existing, 'old');
    for (const [overrides, pattern] of [
      [{ digit: 11, out: existing }, /^error: digit must be a whole number from 0 to 9, got 11\n$/],
      [{ count: 0, out: existing }, /^error: count must be a whole number from 1 to 10000, got 0\n$/],
      [{ checkpointDir: path.join(root, 'none'), out: existing }, /^error: .*none: no checkpoint here; train one with/],
      [{ out: path.join(root, 'grid.jpg') }, /^error: --out must name a .png file/],
    ] as const) {
      const { io, err } = capture();
      assert.equal(await runSampleCommand(sampleOptions(overrides), io), 1);
      assert.match(err(), pattern);
      assert.equal(err().trim().split('\n').length, 1);
    }
    assert.equal(readFileSync(existing, 'utf8'), 'old');
    assert.equal(existsSync(path.join(root, 'grid.jpg')), false);
  });
});
