import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadCheckpoint, readCheckpointMeta, summarizeCheckpoint } from '../src/engine/checkpoint.js';
import { trainableVariables } from '../src/engine/model.js';
import { batchRanges, gatherBatch, loadMnist, type MnistSet } from '../src/engine/data.js';
import { InvalidArgumentError } from '../src/engine/errors.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, seedWeights } from '../src/engine/model.js';
import { createRng, normals, permutation } from '../src/engine/rng.js';
import { createAdam } from '../src/engine/adam.js';
import { createLocalStep, type StepMetrics } from '../src/engine/step.js';
import { trainCheckpoint } from '../src/engine/train.js';
import { DEFAULT_TRAIN_OPTIONS, type BatchReport, type EpochReport } from '../src/engine/types.js';

const root = mkdtempSync(path.join(tmpdir(), 'cvae-train-'));
after(() => rmSync(root, { recursive: true, force: true }));
let subset: MnistSet;
before(async () => {
  await initBackend('wasm');
  subset = await loadMnist('train', { limit: 256 });
});

async function runSteps(steps: number, seed: number, batchSize = 32, learningRate = 1e-3): Promise<{ losses: number[]; tensorsAfterFirst: number; tensorsAtEnd: number; bnMeanMoved: boolean }> {
  const model = buildCvae();
  seedWeights(model, createRng(seed));
  const adam = createAdam(model, learningRate);
  const step = createLocalStep({ model, optimizer: adam, gamma: 1e-4, config: DEFAULT_MODEL_CONFIG });
  const rng = createRng(seed, 'batches');
  const losses: number[] = [];
  let tensorsAfterFirst = 0;
  let order = permutation(subset.count, rng);
  const ranges = batchRanges(subset.count, batchSize);
  for (let s = 0; s < steps; s++) {
    const [start, end] = ranges[s % ranges.length]!;
    if (s > 0 && s % ranges.length === 0) order = permutation(subset.count, rng);
    const batch = gatherBatch(subset, order, start, end);
    const metrics: StepMetrics = await step.run({ ...batch, eps: normals(batch.size * 16, rng) });
    losses.push(metrics.loss);
    if (s === 0) tensorsAfterFirst = tf.memory().numTensors;
  }
  const tensorsAtEnd = tf.memory().numTensors;
  const movingMean = model.decoder.getLayer('dec_bn').getWeights()[2]!.dataSync();
  const bnMeanMoved = movingMean.some((v) => v !== 0);
  disposeCvae(model);
  return { losses, tensorsAfterFirst, tensorsAtEnd, bnMeanMoved };
}

describe('training steps', () => {
  test('loss goes down over a few steps on a small subset, with flat tensor memory and BatchNorm statistics updated', async () => {
    const { losses, tensorsAfterFirst, tensorsAtEnd, bnMeanMoved } = await runSteps(16, 1, 16, 2e-3);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.slice(0, 4));
    const last = mean(losses.slice(-4));
    assert.ok(last < 0.9 * first, `loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
    assert.equal(tensorsAtEnd, tensorsAfterFirst);
    assert.ok(bnMeanMoved, 'BatchNorm moving mean never moved: training=true did not reach the layer');
  });

  test('a seed fixes the run', async () => {
    const a = await runSteps(2, 5, 8);
    const b = await runSteps(2, 5, 8);
    const c = await runSteps(2, 6, 8);
    assert.deepEqual(a.losses, b.losses);
    assert.notDeepEqual(a.losses, c.losses);
  });
});

describe('trainCheckpoint', () => {
  const options = (dir: string) => ({ ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 64, limit: 128, seed: 3, checkpointDir: dir, backend: 'wasm' as const });

  test('reports batches and epochs, saves a checkpoint with the fitted density, and resumes where it stopped', async () => {
    const dir = path.join(root, 'run');
    const batches: BatchReport[] = [];
    const epochs: EpochReport[] = [];
    const statuses: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const outcome = await trainCheckpoint(options(dir), { onBatchEnd: (r) => void batches.push(r), onEpochEnd: (r) => void epochs.push(r), onStatus: (s) => void statuses.push(s) }, { testLimit: 64 });
    assert.deepEqual(outcome, { checkpointDir: dir, epochsTrained: 1, aborted: false, backend: 'wasm' });
    assert.equal(tf.memory().numTensors, tensorsBefore, 'a whole training run leaves no tensors behind');
    assert.deepEqual(batches.map((b) => [b.epoch, b.batch, b.batches]), [[1, 1, 2], [1, 2, 2]]);
    assert.ok(batches.every((b) => b.samplesPerSec > 0 && Math.abs(b.loss - (b.recon + 1e-4 * b.kl)) < 1e-6));
    assert.equal(epochs.length, 1);
    assert.equal(epochs[0]!.savedTo, dir);
    assert.equal(epochs[0]!.preview?.length, 10);
    assert.ok(epochs[0]!.testRecon > 0 && epochs[0]!.testKl >= 0);
    assert.ok(statuses.some((s) => s.includes('fitting the latent density')));
    const meta = await readCheckpointMeta(dir);
    assert.equal(meta.epochsTrained, 1);
    assert.equal(meta.trainSamples, 128);
    assert.equal(meta.history.length, 1);
    assert.equal(meta.optimizer?.step, 2);
    assert.equal(meta.prior?.digits.length, 10);
    assert.equal(meta.training.seed, 3);
    // Finishing measured the BatchNorm statistics on all 128 images (fewer than the 10,000 cap).
    assert.equal(meta.finish?.batchNormImages, 128);
    assert.ok(meta.finish.testRecon > 0 && meta.finish.testKl >= 0);
    assert.equal(summarizeCheckpoint(dir, meta).testMse, meta.finish.testRecon, 'front ends show the finished model\'s test error');
    assert.ok(statuses.some((s) => s.includes('measuring BatchNorm statistics on 128 training images')));

    const resumed = await trainCheckpoint({ ...options(dir), resume: true }, {}, { testLimit: 64 });
    assert.equal(resumed.epochsTrained, 2);
    const after = await loadCheckpoint(dir, { withOptimizer: true });
    assert.equal(after.meta.history.length, 2);
    assert.equal(after.optimizer?.step, 4);
    assert.equal(after.optimizer?.names.length, trainableVariables(after).length);
    disposeCvae(after);

    // An interrupted run leaves no fitted density; resuming for 0 epochs refits it and trains nothing.
    const refit = await trainCheckpoint({ ...options(dir), resume: true, epochs: 0 }, {}, { testLimit: 64 });
    assert.equal(refit.epochsTrained, 2);
    const refitted = await readCheckpointMeta(dir);
    assert.equal(refitted.history.length, 2);
    assert.equal(refitted.prior?.digits.length, 10);
  });

  test('aborting mid-epoch stops after the current batch and keeps the last complete checkpoint', async () => {
    const dir = path.join(root, 'abort');
    await trainCheckpoint(options(dir), {}, { testLimit: 64 });
    const before = await readCheckpointMeta(dir);
    const controller = new AbortController();
    let seen = 0;
    const outcome = await trainCheckpoint({ ...options(dir), resume: true, epochs: 3 }, {
      signal: controller.signal,
      onBatchEnd: () => {
        seen++;
        controller.abort();
      },
    }, { testLimit: 64 });
    assert.equal(seen, 1);
    assert.equal(outcome.aborted, true);
    assert.equal(outcome.epochsTrained, 1);
    const afterAbort = await readCheckpointMeta(dir);
    assert.equal(afterAbort.savedAt, before.savedAt);
    assert.ok(afterAbort.prior !== null);
  });

  test('bad options are rejected before any work, with one-line messages', async () => {
    const dir = path.join(root, 'never');
    await assert.rejects(trainCheckpoint({ ...options(dir), epochs: 0 }), (e: unknown) => e instanceof InvalidArgumentError && /epochs must be a whole number >= 1 \(or 0 with resume, to only finish a trained checkpoint\), got 0/.test(e.message));
    await assert.rejects(trainCheckpoint({ ...options(dir), batchSize: 2.5 }), InvalidArgumentError);
    await assert.rejects(trainCheckpoint({ ...options(dir), learningRate: -1 }), InvalidArgumentError);
    assert.equal(existsSync(dir), false);
  });
});
