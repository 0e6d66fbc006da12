import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadMnist, sliceBatch, type MnistSet } from '../src/engine/data.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, seedWeights, trainableVariables, type Cvae } from '../src/engine/model.js';
import { createAutoStep, createParallelStep, ParallelTrainingError, splitRows, type ParallelStep } from '../src/engine/parallel/index.js';
import { InvalidArgumentError } from '../src/engine/errors.js';
import { statVariables, trainable } from '../src/engine/parallel/replica.js';
import { createRng, normals } from '../src/engine/rng.js';
import { createAdam } from '../src/engine/adam.js';
import { createLocalStep, type StepContext, type TrainBatch } from '../src/engine/step.js';
import { trainCheckpoint } from '../src/engine/train.js';
import { DEFAULT_TRAIN_OPTIONS } from '../src/engine/types.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const GAMMA = 1e-4;
let data: MnistSet;

function seededModel(): Cvae {
  const model = buildCvae();
  seedWeights(model, createRng(7, 'init'));
  return model;
}

function batchOf(start: number, size: number, seed: number): TrainBatch {
  return { ...sliceBatch(data, start, start + size), eps: normals(size * DEFAULT_MODEL_CONFIG.latentDim, createRng(seed, 'eps')) };
}

async function values(vars: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
}

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

describe('splitRows', () => {
  it('splits as evenly as possible, this thread first', () => {
    assert.deepEqual(splitRows(128, 2), [64, 64]);
    assert.deepEqual(splitRows(7, 2), [4, 3]);
    assert.deepEqual(splitRows(10, 4), [3, 3, 2, 2]);
    assert.deepEqual(splitRows(1, 3), [1, 0, 0]);
  });
});

describe('data-parallel step (2 threads)', () => {
  let model: Cvae;
  let context: StepContext;
  let step: ParallelStep;

  before(async () => {
    await initBackend('wasm');
    data = await loadMnist('train', { limit: 64 });
    model = seededModel();
    context = { model, optimizer: createAdam(model, 1e-3), gamma: GAMMA, config: DEFAULT_MODEL_CONFIG };
    step = await createParallelStep(context, { ranks: 2, maxBatch: 16, backend: 'wasm' });
  });

  after(async () => {
    await step?.dispose?.();
    if (model) disposeCvae(model);
  });

  it('trains 8 steps from one seed exactly as one thread does: losses, weights and BatchNorm statistics (synchronised BatchNorm)', async () => {
    // The reference: the same seed and batches on this thread alone. The two differ only in the
    // order of float summation, so they agree to float32 rounding; BatchNorm per thread instead of
    // over the whole batch moves the KL by ~1e-3 relative within a few steps.
    const reference = seededModel();
    const refAdam = createAdam(reference, 1e-3);
    const refStep = createLocalStep({ model: reference, optimizer: refAdam, gamma: GAMMA, config: DEFAULT_MODEL_CONFIG });
    const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
    // Biases right before a BatchNorm have a gradient of exactly 0 in exact arithmetic (the
    // normalisation removes them), so theirs is rounding noise that Adam scales up to ~lr per step;
    // the moving mean of that BatchNorm inherits it. Everything else must agree.
    const noise = /(enc_conv1|dec_conv4)\/bias$/;
    for (let i = 0; i < 8; i++) {
      // An odd size on the last step: 8 rows here, 7 on the worker.
      const batch = batchOf(16 * (i % 4), i === 7 ? 15 : 16, i);
      const got = await step.run(batch);
      const want = await refStep.run(batch);
      assert.ok(relative(got.loss, want.loss) < 1e-5, `step ${i} loss ${got.loss} vs ${want.loss}`);
      assert.ok(relative(got.kl, want.kl) < 1e-4, `step ${i} kl ${got.kl} vs ${want.kl}`);
    }
    const names = trainableVariables(model).map((v) => v.name);
    const [ours, theirs] = [await values(trainable(model)), await values(trainable(reference))];
    ours.forEach((w, i) => {
      if (noise.test(names[i]!)) return;
      let diff = 0;
      let norm = 0;
      w.forEach((x, j) => ((diff += (x - theirs[i]![j]!) ** 2), (norm += theirs[i]![j]! ** 2)));
      assert.ok(Math.sqrt(diff / norm) < 1e-4, `${names[i]} differs by ${Math.sqrt(diff / norm)} (relative)`);
    });
    const [ourStats, theirStats] = [await values(statVariables(model)), await values(statVariables(reference))];
    // [encoder mean, encoder variance, decoder mean (inherits the bias noise), decoder variance]
    for (const k of [0, 1, 3]) assert.ok(maxAbsDiff([ourStats[k]!], [theirStats[k]!]) < 1e-5, `moving statistic ${k}`);
    disposeCvae(reference);
  });

  it('keeps tensor memory flat across steps', async () => {
    await step.run(batchOf(0, 16, 1));
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await step.run(batchOf(16 * i, 16, i));
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('rejects a batch larger than it was sized for, or an empty one, with a typed one-line error (and still steps after)', async () => {
    await assert.rejects(step.run(batchOf(0, 40, 1)), ParallelTrainingError);
    await assert.rejects(step.run(batchOf(0, 0, 1)), (e: unknown) => e instanceof ParallelTrainingError && /at least one row/.test(e.message));
    const metrics = await step.run(batchOf(0, 16, 1));
    assert.ok(Number.isFinite(metrics.loss));
  });
});

describe('a failing worker', () => {
  it('fails the step with a one-line ParallelTrainingError, and dispose still returns', async () => {
    await initBackend('wasm');
    data ??= await loadMnist('train', { limit: 64 });
    const model = seededModel();
    const context: StepContext = { model, optimizer: createAdam(model, 1e-3), gamma: GAMMA, config: DEFAULT_MODEL_CONFIG };
    const step = await createParallelStep(context, { ranks: 2, maxBatch: 16, backend: 'wasm' });
    await step.run(batchOf(0, 16, 1));
    await step.workers[0]!.terminate();
    await assert.rejects(step.run(batchOf(16, 16, 2)), (e: unknown) => e instanceof ParallelTrainingError && /worker 1/.test(e.message) && !e.message.includes('\n'));
    await step.dispose?.();
    disposeCvae(model);
  });
});

describe('createAutoStep', () => {
  it('rejects a workers count that is not a whole number >= 1, and runs workers: 1 on this thread', async () => {
    await initBackend('wasm');
    const model = buildCvae();
    const context: StepContext = { model, optimizer: createAdam(model, 1e-3), gamma: GAMMA, config: DEFAULT_MODEL_CONFIG };
    for (const workers of [0, 1.5, Number.NaN, -2]) {
      await assert.rejects(createAutoStep(context, { workers, backend: 'wasm', batchSize: 32 }), InvalidArgumentError);
    }
    const statuses: string[] = [];
    const step = await createAutoStep(context, { workers: 1, backend: 'wasm', batchSize: 32, onStatus: (s) => void statuses.push(s) });
    assert.deepEqual(statuses, ['training on 1 thread']);
    await step.dispose?.();
    disposeCvae(model);
  });
});

describe('trainCheckpoint and the parallel step', () => {
  for (const workers of [2, 1]) {
    it(`trains with workers: ${workers} (${workers > 1 ? 'data-parallel' : 'single-threaded'})`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'cvae-parallel-'));
      try {
        const statuses: string[] = [];
        const losses: number[] = [];
        const outcome = await trainCheckpoint(
          { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 32, limit: 96, seed: 5, workers, backend: 'wasm', checkpointDir: path.join(dir, 'ck') },
          { onStatus: (s) => void statuses.push(s), onBatchEnd: (r) => void losses.push(r.loss) },
          { testLimit: 32, priorComponents: 1 },
        );
        assert.equal(outcome.epochsTrained, 1);
        assert.equal(losses.length, 3);
        assert.ok(losses.every(Number.isFinite));
        assert.equal(statuses.some((s) => /training on 2 threads/.test(s)), workers === 2, statuses.join(' | '));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
