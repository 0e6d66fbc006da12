/**
 * Hardening (issue 7): broken files. Damaged checkpoints, corrupt IDX data, unusable settings, a
 * checkpoint target that is someone's folder, read-only and full disks: each is one clear line (exit
 * non-zero where the command cannot go on), never a stack trace, and the last good checkpoint keeps
 * every byte. Read-only and full disks are real tmpfs mounts (`mount -t tmpfs -o size=...`, remounted
 * ro); where mounting is not permitted those two cases are skipped and say so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { hashTree } from '../tools/kill-loop.js';
import { runSampleCommand } from '../src/commands/sample.js';
import { runTrainCommand } from '../src/commands/train.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../src/engine/types.js';
import { openSettings } from '../src/config/settings.js';
import { runBin as runBinFromSource, type BinResult } from './run-bin.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-hardening-files-'));
const STACK_FRAME = /^\s+at .+[:(]/m;
const mounts: string[] = [];
let good = '';

/** Runs the bin from source with private settings; `input` goes to a piped stdin. */
function runBin(args: string[], env: Record<string, string> = {}, input = ''): Promise<BinResult> {
  const defaults = { CVAE_REPL_CONFIG_DIR: fs.mkdtempSync(path.join(work, 'cfg-')), CVAE_REPL_DATA_DIR: path.join(work, 'user-data'), CVAE_REPL_FAKE_GENERATOR: '', NO_COLOR: '1' };
  return runBinFromSource(args, { ...defaults, ...env }, input);
}

function capture(): { io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stream = (add: (s: string) => void) => ({ write: (s: string) => (add(s), true) }) as unknown as NodeJS.WritableStream;
  return { io: { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)) }, out: () => out, err: () => err };
}

/** One error line naming `file`, nothing else on stderr, no stack trace. */
function assertOneLineError(err: string, pattern: RegExp, what: string): void {
  assert.ok(!STACK_FRAME.test(err), `${what}: stack trace\n${err}`);
  const lines = err.trimEnd().split('\n').filter((l) => !l.startsWith('note: '));
  assert.equal(lines.length, 1, `${what}: one line expected:\n${err}`);
  assert.match(lines[0]!, pattern, what);
}

function copyOfGood(name: string, damage: (dir: string) => void = () => undefined): string {
  const dir = path.join(work, name);
  fs.cpSync(good, dir, { recursive: true });
  damage(dir);
  return dir;
}

function editJson(file: string, change: (value: Record<string, unknown>) => unknown): void {
  const value = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const replaced = change(value);
  fs.writeFileSync(file, JSON.stringify(replaced === undefined ? value : replaced));
}

function tryMount(dir: string, size: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
  if (ok) mounts.push(dir);
  return ok;
}

const trainOptions = (checkpointDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({ ...DEFAULT_TRAIN_OPTIONS, epochs: 1, limit: 128, batchSize: 64, seed: 2, checkpointDir, backend: 'auto', ...extra });

before(async () => {
  // One tiny trained checkpoint (1 epoch on 128 images, ~5 s) shared by every case.
  good = path.join(work, 'good');
  const { io, err } = capture();
  assert.equal(await runTrainCommand(trainOptions(good), io), 0, err());
});

after(() => {
  for (const dir of mounts.reverse()) spawnSync('umount', [dir]);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('damaged checkpoints', () => {
  test('each damage is one line naming the file, exit 1, and the damaged files are left as they were', async () => {
    const weightsSpecs = (dir: string) => path.join(dir, 'decoder', 'model.json');
    const cases: Array<[string, (dir: string) => void, RegExp]> = [
      ['truncated weights', (d) => fs.truncateSync(path.join(d, 'decoder', 'weights.bin'), 1000), /decoder\/weights\.bin: holds 1000 bytes, model\.json needs \d+; the model is damaged/],
      ['weights with extra bytes', (d) => fs.appendFileSync(path.join(d, 'encoder', 'weights.bin'), 'xx'), /encoder\/weights\.bin: holds \d+ bytes, model\.json needs/],
      ['missing weights', (d) => fs.rmSync(path.join(d, 'decoder', 'weights.bin')), /decoder\/weights\.bin: is missing/],
      ['weights file is a directory', (d) => (fs.rmSync(path.join(d, 'decoder', 'weights.bin')), fs.mkdirSync(path.join(d, 'decoder', 'weights.bin'))), /weights\.bin: cannot be read \(EISDIR\)/],
      ['model.json cut short', (d) => fs.writeFileSync(weightsSpecs(d), fs.readFileSync(weightsSpecs(d), 'utf8').slice(0, 500)), /decoder\/model\.json: is not valid JSON/],
      ['model.json edited: Dense(1024) -> Dense(512)', (d) => fs.writeFileSync(weightsSpecs(d), fs.readFileSync(weightsSpecs(d), 'utf8').replace('"units":1024', '"units":512')), /decoder\/model\.json: cannot be rebuilt \(Shape mismatch/],
      ['wrong tensor shape, same byte count', (d) => editJson(weightsSpecs(d), (m) => {
        const weights = (m.weightsManifest as Array<{ weights: Array<{ shape: number[] }> }>)[0]!.weights;
        const kernel = weights.find((w) => w.shape.length === 4 && w.shape[2] !== w.shape[3])!;
        kernel.shape = [kernel.shape[0]!, kernel.shape[1]!, kernel.shape[3]!, kernel.shape[2]!];
      }), /decoder\/model\.json: cannot be rebuilt \(Shape mismatch/],
      ['weights path outside the checkpoint', (d) => editJson(weightsSpecs(d), (m) => void ((m.weightsManifest as Array<{ paths: string[] }>)[0]!.paths = ['../../../../etc/passwd'])), /names weights file .* outside its directory/],
      ['not a LayersModel', (d) => fs.writeFileSync(weightsSpecs(d), '{}'), /is not a TensorFlow\.js LayersModel/],
      ['missing meta.json', (d) => fs.rmSync(path.join(d, 'meta.json')), /meta\.json: is missing/],
      ['meta.json is null', (d) => fs.writeFileSync(path.join(d, 'meta.json'), 'null'), /meta\.json: is not a JSON object/],
      ['meta.json from the future', (d) => editJson(path.join(d, 'meta.json'), (m) => void (m.formatVersion = 99)), /format version 99 is not supported/],
      ['meta.json without a model config', (d) => editJson(path.join(d, 'meta.json'), (m) => void delete m.model), /meta\.json: model: missing \(expected an object\); retrain or restore the checkpoint/],
      ['meta.json says latent 8', (d) => editJson(path.join(d, 'meta.json'), (m) => void (((m.model as Record<string, unknown>).latentDim = 8), (m.prior = null))), /encoder outputs are .* config needs/],
      ['a damaged latent density', (d) => editJson(path.join(d, 'meta.json'), (m) => void (m.prior = 'x')), /latent density is malformed \(unknown kind\); refit it with `cvae-repl train --resume --epochs 0/],
      ['an empty directory', (d) => (fs.rmSync(d, { recursive: true }), fs.mkdirSync(d)), /meta\.json: is missing/],
      ['a file, not a directory', (d) => (fs.rmSync(d, { recursive: true }), fs.writeFileSync(d, 'x')), /meta\.json: cannot be read \(ENOTDIR\)/],
    ];
    for (const [what, damage, pattern] of cases) {
      const dir = copyOfGood(what.replace(/\W+/g, '-'), damage);
      const before = fs.statSync(dir).isDirectory() ? hashTree(dir) : new Map();
      const { io, out, err } = capture();
      const code = await runSampleCommand({ digit: 3, count: 4, pad: 2, sampler: 'fitted', scale: 1, checkpointDir: dir, out: path.join(work, 'never.png'), backend: 'auto' }, io);
      assert.equal(code, 1, `${what}: ${out()}${err()}`);
      assertOneLineError(err(), new RegExp(`^error: ${dir.replaceAll('.', '\\.')}.*${pattern.source}`), what);
      if (fs.statSync(dir).isDirectory()) assert.deepEqual(hashTree(dir), before, `${what}: loading changed the files`);
    }
    assert.equal(fs.existsSync(path.join(work, 'never.png')), false);
  });

  test('through the bin: sample, the prompt in line mode, and train --resume on a damaged optimizer state', async () => {
    const truncated = copyOfGood('bin-truncated', (d) => fs.truncateSync(path.join(d, 'decoder', 'weights.bin'), 10));
    const optimizer = copyOfGood('bin-optimizer', (d) => fs.truncateSync(path.join(d, 'optimizer.bin'), 100));
    const hashes = hashTree(optimizer);
    const [sample, repl, resume] = await Promise.all([
      runBin(['sample', '3', '--checkpoint', truncated, '--out', path.join(work, 'x.png')]),
      runBin(['--checkpoint', truncated], {}, '3\n-1\n'),
      runBin(['train', '--resume', '--epochs', '1', '--checkpoint', optimizer]),
    ]);
    assert.equal(sample.code, 1);
    assertOneLineError(sample.err, /^error: .*decoder\/weights\.bin: holds 10 bytes/, 'sample');
    assert.equal(repl.code, 1);
    assertOneLineError(repl.err, /^error: .*decoder\/weights\.bin: holds 10 bytes/, 'line mode');
    assert.equal(resume.code, 1, resume.out + resume.err);
    assertOneLineError(resume.err, /^error: .*optimizer\.bin: is 100 bytes, expected \d+; resume is impossible, train without --resume$/, 'resume');
    assert.deepEqual(hashTree(optimizer), hashes, 'the failed resume left the checkpoint as it was');
  });
});

function idxImages(count: number, options: { rows?: number; magic?: number; bytes?: number } = {}): Buffer {
  const rows = options.rows ?? 28;
  const header = Buffer.alloc(16);
  header.writeUInt32BE(options.magic ?? 2051, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(rows, 12);
  return Buffer.concat([header, Buffer.alloc(options.bytes ?? count * rows * rows, 7)]);
}

function idxLabels(labels: number[]): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(2049, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

describe('corrupt IDX data (--data-dir)', () => {
  test('each is one line naming the file, exit 1, before any checkpoint is written', async () => {
    const labels = Array.from({ length: 100 }, (_, i) => i % 10);
    const valid = { 'train-images-idx3-ubyte': idxImages(100), 'train-labels-idx1-ubyte': idxLabels(labels), 't10k-images-idx3-ubyte': idxImages(100), 't10k-labels-idx1-ubyte': idxLabels(labels) };
    const cases: Array<[string, Record<string, Buffer | null>, RegExp]> = [
      ['no files', { 'train-images-idx3-ubyte': null, 'train-labels-idx1-ubyte': null }, /train-images-idx3-ubyte: not found \(nor train-images-idx3-ubyte\.gz\)/],
      ['truncated images', { 'train-images-idx3-ubyte': idxImages(100, { bytes: 5000 }) }, /train-images-idx3-ubyte: header says 100 images of 28x28 \(78416 bytes\), file has 5016 bytes \(truncated\?\)/],
      ['labels where images belong', { 'train-images-idx3-ubyte': idxLabels(labels) }, /expected magic 2051 \(IDX images\), found 2049 \(a label file\)/],
      ['32x32 images', { 'train-images-idx3-ubyte': idxImages(100, { rows: 32 }) }, /expected 28x28 images, found 32x32/],
      ['a header claiming 4 billion images', { 'train-images-idx3-ubyte': idxImages(0xffffffff, { bytes: 784 }) }, /header says 4294967295 images/],
      ['label 12', { 'train-labels-idx1-ubyte': idxLabels([...labels.slice(0, 99), 12]) }, /train-labels-idx1-ubyte: label 99 is 12, expected a digit 0-9/],
      ['fewer labels than images', { 'train-labels-idx1-ubyte': idxLabels(labels.slice(0, 90)) }, /has 100 images but train-labels-idx1-ubyte has 90 labels/],
      ['corrupt gzip', { 'train-labels-idx1-ubyte': null, 'train-labels-idx1-ubyte.gz': gzipSync(idxLabels(labels)).subarray(0, 20) }, /train-labels-idx1-ubyte\.gz: gzip data is corrupt/],
      ['a directory where a file belongs', { 't10k-images-idx3-ubyte': null }, /t10k-images-idx3-ubyte: cannot read: EISDIR/],
    ];
    for (const [what, changes, pattern] of cases) {
      const dataDir = path.join(work, `data-${what.replace(/\W+/g, '-')}`);
      fs.mkdirSync(dataDir);
      for (const [name, bytes] of Object.entries({ ...valid, ...changes })) if (bytes !== null) fs.writeFileSync(path.join(dataDir, name), bytes);
      if (what === 'a directory where a file belongs') fs.mkdirSync(path.join(dataDir, 't10k-images-idx3-ubyte'));
      const checkpoint = path.join(work, `never-${what.replace(/\W+/g, '-')}`);
      const { io, err } = capture();
      assert.equal(await runTrainCommand(trainOptions(checkpoint, { dataDir }), io), 1, what);
      assertOneLineError(err(), new RegExp(`^error: .*${pattern.source}`), what);
      assert.equal(fs.existsSync(checkpoint), false, `${what}: no checkpoint`);
    }
    const missing = await runBin(['train', '--epochs', '1', '--data-dir', path.join(work, 'no-such-dir'), '--checkpoint', path.join(work, 'never-bin')]);
    assert.equal(missing.code, 1);
    assertOneLineError(missing.err, /^error: .*no-such-dir\/train-images-idx3-ubyte: not found/, 'the bin, a missing --data-dir');
  });
});

describe('where a checkpoint cannot or must not be written', () => {
  test('a folder of the user, a file, a path through a file: refused before training, left as they were', async () => {
    const folder = path.join(work, 'documents');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'thesis.txt'), 'precious');
    const file = path.join(work, 'notes.txt');
    fs.writeFileSync(file, 'notes');
    const cases: Array<[string, RegExp]> = [
      [folder, /holds files but no checkpoint \(no meta\.json\); it is left as it is/],
      [file, /is a file, not a checkpoint directory; it is left as it is/],
      [path.join(file, 'ck'), /cannot be created: part of the path is a file/],
    ];
    for (const [target, pattern] of cases) {
      const { io, out, err } = capture();
      assert.equal(await runTrainCommand(trainOptions(target), io), 1, target);
      assertOneLineError(err(), pattern, target);
      assert.equal(out(), '', 'refused before loading data or training');
    }
    assert.equal(fs.readFileSync(path.join(folder, 'thesis.txt'), 'utf8'), 'precious');
    assert.deepEqual(fs.readdirSync(folder), ['thesis.txt']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'notes');
  });

  const readOnly = path.join(work, 'ro');
  test('a read-only disk (tmpfs remounted ro): resume is refused at once, the checkpoint still samples, nothing changes', { skip: tryMount(readOnly, '8m') ? false : 'mount -t tmpfs is not permitted here' }, async () => {
    const dir = path.join(readOnly, 'ck');
    fs.cpSync(good, dir, { recursive: true });
    assert.equal(spawnSync('mount', ['-o', 'remount,ro', readOnly]).status, 0);
    const before = hashTree(dir);
    const { io, out, err } = capture();
    assert.equal(await runTrainCommand(trainOptions(dir, { resume: true }), io), 1);
    assertOneLineError(err(), /ck: cannot write a checkpoint here \(EROFS\); check the directory is writable/, 'read-only resume');
    assert.equal(out(), '');
    const sample = capture();
    assert.equal(await runSampleCommand({ digit: 3, count: 4, pad: 2, sampler: 'fitted', scale: 1, checkpointDir: dir, out: path.join(work, 'ro.png'), backend: 'auto' }, sample.io), 0, sample.err());
    const png = capture();
    assert.equal(await runSampleCommand({ digit: 3, count: 4, pad: 2, sampler: 'fitted', scale: 1, checkpointDir: dir, out: path.join(readOnly, 'x.png'), backend: 'auto' }, png.io), 1);
    assertOneLineError(png.err(), /^error: cannot write .*x\.png \(EROFS\)/, 'a PNG onto a read-only disk');
    assert.deepEqual(hashTree(dir), before);
  });

  const full = path.join(work, 'full');
  test('a full disk (4 MB tmpfs holding the checkpoint): the save after an epoch fails in one line, the old checkpoint keeps every byte', { skip: tryMount(full, '4m') ? false : 'mount -t tmpfs is not permitted here' }, async () => {
    const dir = path.join(full, 'ck');
    fs.cpSync(good, dir, { recursive: true });
    const before = hashTree(dir);
    const { io, err } = capture();
    assert.equal(await runTrainCommand(trainOptions(dir, { resume: true }), io), 1);
    assertOneLineError(err(), /ck: cannot write the checkpoint \(ENOSPC\); check the directory is writable and the disk has space/, 'full disk');
    assert.deepEqual(hashTree(dir), before);
    assert.deepEqual(fs.readdirSync(full), ['ck'], 'no partial directory left behind');
    const sample = capture();
    assert.equal(await runSampleCommand({ digit: 3, count: 4, pad: 2, sampler: 'fitted', scale: 1, checkpointDir: dir, out: path.join(work, 'full.png'), backend: 'auto' }, sample.io), 0, sample.err());
  });
});

describe('settings', () => {
  test('corrupt, a directory, under a file, a hand-edited bad value: one warning each, the app goes on', async () => {
    const corrupt = fs.mkdtempSync(path.join(work, 'settings-corrupt-'));
    fs.writeFileSync(path.join(corrupt, 'settings.json'), '{"grid": 4');
    const store = openSettings({ dir: corrupt });
    assert.deepEqual(store.warnings.length, 1);
    assert.match(store.warnings[0]!, /settings file .* was unreadable .*; reset to defaults, old file kept as .*settings\.json\.corrupt$/);
    assert.equal(fs.readFileSync(path.join(corrupt, 'settings.json.corrupt'), 'utf8'), '{"grid": 4');

    const isDirectory = fs.mkdtempSync(path.join(work, 'settings-dir-'));
    fs.mkdirSync(path.join(isDirectory, 'settings.json'));
    assert.match(openSettings({ dir: isDirectory }).warnings.join('\n'), /was unreadable \(EISDIR/);

    const underFile = path.join(work, 'settings-file');
    fs.writeFileSync(underFile, 'x');
    const blocked = openSettings({ dir: underFile });
    assert.match(blocked.warnings.join('\n'), /^warning: cannot use the settings in .*settings-file \(ENOTDIR\); this run uses defaults and cannot save any; set CVAE_REPL_CONFIG_DIR/);
    assert.equal(blocked.get().grid, 3);
    assert.throws(() => blocked.set('grid', '4'), /^SettingsError: cannot save settings to .*settings\.json \(ENOTDIR\); set CVAE_REPL_CONFIG_DIR to a writable directory$/);
    assert.match(blocked.setActiveCheckpoint('/x') ?? '', /^warning: cannot save settings .*; pass --checkpoint \/x to use it$/);

    // Through the bin: the prompt runs on defaults with the warning, config set fails in one line.
    const repl = await runBin(['--checkpoint', good, '--grid', '1'], { CVAE_REPL_CONFIG_DIR: underFile }, '3\n-1\n');
    assert.equal(repl.code, 0, repl.err);
    assert.ok(repl.out.endsWith('-1\n'));
    assert.match(repl.err, /^warning: cannot use the settings in .* \(ENOTDIR\)/m);
    assert.ok(!STACK_FRAME.test(repl.err));
    const set = await runBin(['config', 'set', 'grid', '4'], { CVAE_REPL_CONFIG_DIR: underFile });
    assert.equal(set.code, 2);
    assert.match(set.err, /^error: cannot save settings to .* \(ENOTDIR\)/m);
    assert.ok(!STACK_FRAME.test(set.err));
  });
});
