import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runLineMode, type LineModeOptions } from '../src/repl/line-mode.js';
import { createFakeGenerator } from './fake-generator.js';
import { decodePng } from '../src/render/grid.js';
import { realCheckpoint, tinyCheckpoint } from './real-checkpoint.js';
import { runBin as runBinFromSource, type BinResult } from './run-bin.js';

const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

function sink(): { write(text: string): boolean; text: () => string } {
  let out = '';
  return { write: (text: string) => ((out += text), true), text: () => out };
}

async function runWith(input: string, overrides: Partial<LineModeOptions> = {}) {
  const generator = createFakeGenerator();
  const stdout = sink();
  const stderr = sink();
  const stdin = new PassThrough();
  stdin.end(input);
  const code = await runLineMode({
    services: { loadGenerator: async () => generator },
    checkpointDir: '/fake',
    input: stdin,
    stdout,
    stderr,
    render: 'blocks',
    columns: 200,
    grid: 3,
    sampler: 'fitted',
    scale: 1,
    backendChoice: 'auto',
    version: 'test',
    ...overrides,
  });
  return { code, out: stdout.text(), err: stderr.text(), generator };
}

test('line mode: prompt, grid per digit, errors on stderr, the value and exit 0 on an out-of-range integer', async () => {
  const { code, out, err, generator } = await runWith('3\nabc\n 7 \n-1\n5\n');
  assert.equal(code, 0);
  assert.deepEqual(generator.calls.map((c) => [c.digit, c.n]), [[3, 9], [7, 9]]); // stops at -1: 5 is never read
  const lines = stripAnsi(out).split('\n');
  assert.equal(lines[0], 'input digit to generate: 3');
  assert.equal(lines.filter((l) => /^▀{88}$/.test(l)).length, 88); // two grids of 44 lines
  assert.deepEqual(lines.slice(-3), ['input digit to generate: -1', '-1', '']);
  assert.ok(lines.includes('input digit to generate: abc'));
  assert.match(err, /^error: expected an integer: 0-9 draws that digit, any other integer quits \(got "abc"\)$/m);
  assert.match(err, /checkpoint \/fake\/checkpoint/);
  assert.equal(generator.disposed, true);
});

test('line mode: end of input exits 0; a failed load exits 1 with one line', async () => {
  const eof = await runWith('2\n');
  assert.equal(eof.code, 0);
  assert.ok(eof.out.endsWith('input digit to generate: \n'));
  const failed = await runWith('3\n', { services: { loadGenerator: async () => Promise.reject(new Error('no checkpoint at /x')) } });
  assert.equal(failed.code, 1);
  assert.equal(failed.err, 'error: no checkpoint at /x\n');
  assert.equal(failed.out, '');
});

test('line mode --train: progress lines and a preview per epoch on stderr, then the loop on the trained checkpoint', async () => {
  const loaded: string[] = [];
  const generator = createFakeGenerator();
  const { code, err } = await runWith('-1\n', {
    services: {
      loadGenerator: async (dir) => (loaded.push(dir), generator),
      train: async (callbacks) => {
        callbacks.onStatus?.('loading MNIST');
        for (let batch = 1; batch <= 20; batch++) await callbacks.onBatchEnd?.({ epoch: 1, epochs: 1, batch, batches: 20, loss: 0.1, recon: 0.09, kl: 5, samplesPerSec: 50 });
        const preview = await generator.generate(0, 10);
        await callbacks.onEpochEnd?.({ epoch: 1, epochs: 1, loss: 0.1, recon: 0.09, kl: 5, testRecon: 0.1, testKl: 5, seconds: 2, savedTo: '/trained', preview });
        return { checkpointDir: '/trained', epochsTrained: 1, aborted: false, backend: 'cpu' };
      },
    },
    training: { epochs: 1, batchSize: 128 },
  });
  assert.equal(code, 0);
  assert.deepEqual(loaded, ['/trained']);
  assert.match(err, /^loading MNIST$/m);
  assert.equal(err.match(/^epoch 1\/1 [█░]{20} \d+\/20 · loss/gm)?.length, 10); // one line per tenth of the epoch
  assert.match(err, /^epoch 1\/1 · loss 0\.1000 .* · saved$/m);
  assert.match(err, /training done: 1 epoch in \/trained/);
  assert.ok(stripAnsi(err).includes('▀'));
  // The loss curves at the end (braille: the grids are blocks).
  assert.match(err, /^loss curves, epoch 1 \(training means per epoch\)\nreconstruction, per-pixel MSE: 0\.0900 → 0\.0900 \(test 0\.1000\)$/m);
  assert.match(err, /^KL, nats per sample: 5\.00 → 5\.00 \(test 5\.00\)$/m);
});

/** Runs the bin with piped stdin, the fake generator (CVAE_REPL_FAKE_GENERATOR: '' runs the real engine) and a private settings dir. */
function runBin(input: string, args: string[] = [], env: Record<string, string> = {}, configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-line-'))): Promise<BinResult> {
  return runBinFromSource(args, { CVAE_REPL_FAKE_GENERATOR: '1', CVAE_REPL_CONFIG_DIR: configDir, NO_COLOR: '', ...env }, input);
}

test('the bin in line mode (stdin is a pipe): printf "3\\n7\\n-1\\n" | cvae-repl', async () => {
  const { code, out, err } = await runBin('3\n7\n-1\n');
  assert.equal(code, 0, err);
  const lines = stripAnsi(out).split('\n');
  assert.equal(lines.filter((l) => /^▀{88}$/.test(l)).length, 88);
  assert.deepEqual(lines.slice(-3), ['input digit to generate: -1', '-1', '']);
  assert.match(out, /\x1b\[38;2;/); // 24-bit half-blocks even though stdout is a pipe
  assert.ok(!/Hi, looks like|at .*\.ts:\d+/.test(out + err), 'no banner, no stack trace');
});

test('the bin in line mode: NO_COLOR gives ascii, --render kitty gives payloads, EOF exits 0', async () => {
  const ascii = await runBin('1\n', [], { NO_COLOR: '1' });
  assert.equal(ascii.code, 0);
  assert.ok(!ascii.out.includes('\x1b'));
  assert.ok(ascii.out.includes('@'));
  const kitty = await runBin('1\n-5\n', ['--render', 'kitty']);
  assert.equal(kitty.code, 0);
  assert.match(kitty.out, /\x1b_Ga=T,f=100/);
  assert.ok(kitty.out.endsWith('-5\n'));
  const bad = await runBin('', ['--grid', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^error: --grid must be an integer from 1 to 10 \(got 0\)\n/);
});

test('the bin in line mode on a real checkpoint: printf "3\\n7\\n-1\\n" | cvae-repl', async () => {
  const checkpoint = realCheckpoint();
  const { code, out, err } = await runBin('3\n7\nabc\n-1\n', checkpoint.shipped ? [] : ['--checkpoint', checkpoint.dir], { CVAE_REPL_FAKE_GENERATOR: '' });
  assert.equal(code, 0, err);
  const lines = stripAnsi(out).split('\n');
  assert.equal(lines.filter((l) => /^▀{88}$/.test(l)).length, 88); // two 3x3 grids
  assert.deepEqual(lines.slice(-3), ['input digit to generate: -1', '-1', '']);
  assert.match(err, /^cvae-repl .* · backend (tensorflow|wasm|cpu) · sampler /m);
  assert.match(err, /^error: expected an integer/m);
  assert.ok(!/Hi, looks like|TensorFlow\.js in Node|^\s+at /m.test(out + err), `no banner, no stack trace:\n${err}`);
});

test('the bin: --train in line mode trains, makes the new checkpoint active, then runs the loop on it', async () => {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-line-train-cfg-'));
  const checkpoint = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-line-train-ck-'));
  const trained = await runBin('1\n-1\n', ['--train', '--epochs', '1', '--limit', '256', '--seed', '3', '--checkpoint', checkpoint, '--grid', '1'], { CVAE_REPL_FAKE_GENERATOR: '' }, configDir);
  assert.equal(trained.code, 0, trained.err);
  assert.match(trained.err, /^epoch 1\/1 · loss .* · saved$/m);
  assert.match(trained.err, /^loss curves, epoch 1 /m);
  assert.match(trained.err, new RegExp(`training done: 1 epoch in ${checkpoint}, now the active checkpoint`));
  assert.match(trained.err, new RegExp(`^checkpoint ${checkpoint} \\(1 epoch on 256 images`, 'm'));
  assert.equal(stripAnsi(trained.out).split('\n').filter((l) => /^▀{28}$/.test(l)).length, 14); // one 28x28 tile
  const settings = JSON.parse(fs.readFileSync(path.join(configDir, 'settings.json'), 'utf8')) as { checkpoint?: string };
  assert.equal(settings.checkpoint, checkpoint);
  // The next run, without flags, opens it.
  const next = await runBin('-1\n', [], { CVAE_REPL_FAKE_GENERATOR: '' }, configDir);
  assert.equal(next.code, 0, next.err);
  assert.match(next.err, new RegExp(`^checkpoint ${checkpoint} `, 'm'));
});

/** Runs every prompt command through the bin in line mode; returns the output and the dirs it used. */
async function everyCommand(args: string[], env: Record<string, string>) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-line-cmd-'));
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-line-cmd-cfg-'));
  const save = (name: string): string => `:save ${path.join(cwd, name)}`;
  const script = [':help', ':walk', ':save', '3', save('grid.png'), ':style', save('style.png'), ':morph 3 8', save('morph.png'), ':walk', save('walk.png'), ':recon', save('recon'),
    ':seed 7', ':scale 0.8', ':sampler prior', ':grid 2', ':seed', ':grid 11', ':sampler gauss', ':nope', '5', '-1'];
  const result = await runBin(`${script.join('\n')}\n`, ['--render', 'ascii', ...args], env, configDir);
  return { ...result, cwd, configDir };
}

function checkEveryCommand({ code, out, err, cwd, configDir }: Awaited<ReturnType<typeof everyCommand>>): void {
  assert.equal(code, 0, err);
  // :help lists every command, on stdout.
  for (const name of [':style', ':morph A B', ':walk [D]', ':recon', ':save [FILE.png]', ':seed N|off', ':scale T', ':sampler NAME', ':grid N', ':help']) assert.ok(out.includes(name), `:help lists ${name}`);
  assert.match(err, /^error: :walk needs a digit: type one first, or :walk 3$/m);
  assert.match(err, /^error: nothing to save yet/m);
  assert.match(out, /^style: one latent z per row .*digits 0-9 left to right$/m);
  assert.match(out, /^morph: one z, the label blended from 3 to 8 in 10 steps$/m);
  assert.match(out, /^walk: digit 3, 10 steps through latent space/m);
  assert.match(out, /^recon: top, 10 random MNIST test digits \([0-9 ]+\); bottom, their reconstructions \(z = encoder mean, true label\)$/m);
  // Each :save wrote a real PNG of the picture's size (4x), and said where.
  const sizes: Record<string, [number, number]> = { 'grid.png': [352, 352], 'style.png': [1192, 472], 'morph.png': [1192, 112], 'walk.png': [1192, 112], 'recon.png': [1192, 232] };
  for (const [name, size] of Object.entries(sizes)) {
    const file = path.join(cwd, name);
    assert.match(out, new RegExp(`^saved the ${name.replace('.png', '')} picture to ${file} \\(${size[0]}x${size[1]} px\\)$`, 'm'));
    const png = decodePng(fs.readFileSync(file));
    assert.deepEqual([png.width, png.height], size, name);
  }
  assert.deepEqual(fs.readdirSync(cwd).sort(), Object.keys(sizes).sort(), 'no temp files left');
  assert.match(out, /^seed = 7 \(saved\)$/m);
  assert.match(out, /^scale = 0\.8 \(saved\)$/m);
  assert.match(out, /^sampler = prior \(saved\)$/m);
  assert.match(out, /^grid = 2 \(saved\)$/m);
  assert.match(out, /^seed = 7$/m);
  assert.match(err, /^error: :grid takes an integer from 1 to 10 \(got "11"\)$/m);
  assert.match(err, /^error: :sampler takes fitted or prior \(got "gauss"\)$/m);
  assert.match(err, /^error: unknown command :nope; type :help for the commands$/m);
  // The last draw used the new grid: a 2x2 grid of 28-px tiles is 58 ascii columns wide, 29 lines tall.
  const afterFive = out.slice(out.lastIndexOf('input digit to generate: 5'));
  assert.equal(afterFive.split('\n').length - 1, 1 + 29 + 2, afterFive);
  assert.ok(out.endsWith('input digit to generate: -1\n-1\n'));
  const settings = JSON.parse(fs.readFileSync(path.join(configDir, 'settings.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual({ seed: settings.seed, scale: settings.scale, sampler: settings.sampler, grid: settings.grid }, { seed: 7, scale: 0.8, sampler: 'prior', grid: 2 });
  assert.ok(!/^\s+at /m.test(out + err), 'no stack trace');
}

test('the bin in line mode: every prompt command (fake model), settings saved, PNGs written', async () => {
  checkEveryCommand(await everyCommand([], { CVAE_REPL_FAKE_GENERATOR: '1' }));
});

test('the bin in line mode: every prompt command on a real tiny checkpoint (the MNIST test set for :recon)', async () => {
  const result = await everyCommand(['--checkpoint', tinyCheckpoint()], { CVAE_REPL_FAKE_GENERATOR: '' });
  checkEveryCommand(result);
});
