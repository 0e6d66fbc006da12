import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { DEFAULT_EVAL_OPTIONS } from '../src/commands/eval.js';
import { tinyCheckpoint } from './real-checkpoint.js';
import { buildClassifier, CLASSIFIER_FORMAT_VERSION, FEATURE_DIM, saveClassifier } from '../src/eval/classifier.js';
import { runEvalCommand, type EvalOptions } from '../src/commands/eval.js';
import { decodePng } from '../src/render/grid.js';

let dir: string;
let options: EvalOptions;

function capture(isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s), isTTY, columns: 120 }, stderr: { write: (s: string) => err.push(s) }, env: { TERM: 'xterm-256color' } },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(path.join(os.tmpdir(), 'cvae-eval-'));
  // A real (tiny) checkpoint from the engine's trainer, with its fitted density, and an untrained classifier.
  const model = buildClassifier(0);
  await saveClassifier(path.join(dir, 'classifier'), model, {
    formatVersion: CLASSIFIER_FORMAT_VERSION,
    architecture: 'lenet-16-32-128',
    featureLayer: 'features',
    featureDim: FEATURE_DIM,
    testAccuracy: 0.1,
    epochs: 0,
    batchSize: 128,
    seed: 0,
    trainSamples: 0,
    dataFingerprint: { train: '', test: '' },
    backend: 'wasm',
    seconds: 0,
    createdAt: new Date(0).toISOString(),
  });
  model.dispose();
  options = { checkpointDir: tinyCheckpoint(), classifierDir: path.join(dir, 'classifier'), json: true, backend: 'wasm', samplesPerDigit: 4, seed: 2, limit: 40 };
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('eval --json prints one JSON object with both samplers, saves the figure, and leaks no tensors', async () => {
  const tensors = tf.memory().numTensors;
  const c = capture();
  const out = path.join(dir, 'figs', 'recon.png');
  const code = await runEvalCommand({ ...options, out }, c.io);
  assert.equal(code, 0, c.stderr());
  assert.equal(tf.memory().numTensors, tensors);
  const lines = c.stdout().trim().split('\n');
  assert.equal(lines.length, 1, 'stdout is exactly one JSON line; progress goes to stderr');
  const report = JSON.parse(lines[0]!) as {
    reconstruction: { count: number; mseSampled: number; mseMean: number; kl: number };
    recognisability: Record<string, { perDigit: number[]; mean: number; frechet: number; samplesPerDigit: number }>;
    checkpoint: { epochsTrained: number; hasFittedPrior: boolean };
    figure: string;
  };
  assert.equal(report.reconstruction.count, 40);
  for (const v of [report.reconstruction.mseSampled, report.reconstruction.mseMean]) assert.ok(v > 0 && v < 1);
  assert.ok(report.reconstruction.kl >= 0);
  assert.equal(report.checkpoint.epochsTrained, 1);
  assert.deepEqual(Object.keys(report.recognisability).sort(), ['fitted', 'prior']);
  for (const s of Object.values(report.recognisability)) {
    assert.equal(s.samplesPerDigit, 4);
    assert.equal(s.perDigit.length, 10);
    assert.ok(s.perDigit.every((p) => p >= 0 && p <= 1));
    assert.ok(s.frechet >= 0 && Number.isFinite(s.frechet));
  }
  assert.equal(report.figure, out);
  const png = decodePng(await readFile(out));
  assert.deepEqual([png.width, png.height], [298, 58]);
  assert.deepEqual(await readdir(path.dirname(out)), ['recon.png'], 'no temp file left behind');
});

test('eval prints a readable report and the figure in half-blocks on a terminal', async () => {
  const c = capture(true);
  const code = await runEvalCommand({ ...options, json: false }, c.io);
  assert.equal(code, 0, c.stderr());
  const text = c.stdout();
  assert.match(text, /per-pixel MSE, sampled z/);
  assert.match(text, /^ {2}sampler +0 +1 .* 9 +all +Frechet$/m);
  assert.match(text, /^ {2}fitted +\d/m);
  assert.match(text, /^ {2}prior +\d/m);
  assert.ok(text.includes('\u2580') && text.includes('\x1b[38;2;'), 'the figure is drawn with 24-bit half-blocks');
});

test('eval fails with one clear line when the classifier or checkpoint is missing, or samples are too few', async () => {
  let c = capture();
  assert.equal(await runEvalCommand({ ...options, classifierDir: path.join(dir, 'none') }, c.io), 1);
  assert.match(c.stderr(), /^error: no classifier in .*train-classifier/m);
  assert.equal(c.stdout(), '');
  c = capture();
  assert.equal(await runEvalCommand({ ...options, checkpointDir: path.join(dir, 'none') }, c.io), 1);
  assert.match(c.stderr(), /^error: .*none/m);
  c = capture();
  assert.equal(await runEvalCommand({ ...options, samplesPerDigit: 1 }, c.io), 1);
  assert.match(c.stderr(), /--samples must be/);
  for (const line of c.stderr().trim().split('\n')) assert.ok(!line.includes('    at '), 'no stack traces');
});

test('eval with its default seed reports the test MSE the trainer wrote into meta.json (one reconstruction code, one noise)', async () => {
  const meta = JSON.parse(await readFile(path.join(tinyCheckpoint(), 'meta.json'), 'utf8')) as { finish: { testRecon: number }; trainSamples: number };
  const c = capture(false);
  // The tiny checkpoint's trainer scored the first 256 test images (its --limit).
  assert.equal(await runEvalCommand({ ...options, seed: DEFAULT_EVAL_OPTIONS.seed, limit: 256 }, c.io), 0, c.stderr());
  const report = JSON.parse(c.stdout()) as { reconstruction: { mseSampled: number; count: number } };
  assert.equal(report.reconstruction.count, 256);
  assert.ok(Math.abs(report.reconstruction.mseSampled - meta.finish.testRecon) < 1e-7, `eval ${report.reconstruction.mseSampled} vs meta.json ${meta.finish.testRecon}`);
});
