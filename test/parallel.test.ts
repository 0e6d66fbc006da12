import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadMnist, sliceBatch, type MnistSet } from '../src/engine/data.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, seedWeights, type Cvae } from '../src/engine/model.js';
import { createAutoStep, createParallelStep, ParallelTrainingError, splitRows, type ParallelStep } from '../src/engine/parallel/index.js';
import { InvalidArgumentError } from '../src/engine/errors.js';
import { statVariables, trainable } from '../src/engine/parallel/replica.js';
import { createRng, normals } from '../src/engine/rng.js';
import { computeGradients, createAdam, trainCheckpoint, type StepContext, type TrainBatch, type TrainStep } from '../src/engine/train.js';
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

function rows(batch: TrainBatch, start: number, end: number): TrainBatch {
  const latent = batch.eps.length / batch.size;
  return {
    size: end - start,
    images: batch.images.slice(start * 784, end * 784),
    onehot: batch.onehot.slice(start * 10, end * 10),
    labels: batch.labels.slice(start, end),
    eps: batch.eps.slice(start * latent, end * latent),
  };
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
    context?.optimizer.dispose();
    if (model) disposeCvae(model);
  });

  it('equals averaging the gradients of each half on one thread, then the same Adam (weights, BatchNorm statistics, metrics)', async () => {
    // The reference: a second replica with the same weights does each half here, in sequence.
    const reference = seededModel();
    const refAdam = createAdam(reference, 1e-3);
    for (const [i, start] of [0, 16, 32].entries()) {
      const batch = batchOf(start, 15, i);
      const got = await step.run(batch);

      const refStats = statVariables(reference);
      const before = await values(refStats);
      const a = computeGradients(reference, rows(batch, 0, 8), GAMMA);
      const afterA = await values(refStats);
      // Each thread starts from the same moving statistics; the update is averaged by row count.
      refStats.forEach((v, j) => v.assign(tf.tensor(before[j]!, v.shape)));
      const b = computeGradients(reference, rows(batch, 8, 15), GAMMA);
      const afterB = await values(refStats);
      refStats.forEach((v, j) => v.assign(tf.tensor(afterA[j]!.map((x, k) => (8 * x + 7 * afterB[j]![k]!) / 15), v.shape)));
      const grads = a.grads.map((g, j) => tf.tidy(() => tf.div(tf.add(tf.mul(g, 8), tf.mul(b.grads[j]!, 7)), 15)));
      refAdam.apply(grads);
      tf.dispose([...grads, ...a.grads, ...b.grads]);

      assert.ok(Math.abs(got.loss - (8 * a.metrics.loss + 7 * b.metrics.loss) / 15) < 1e-6, `step ${i} loss`);
      assert.ok(Math.abs(got.kl - (8 * a.metrics.kl + 7 * b.metrics.kl) / 15) < 1e-5, `step ${i} kl`);
      const dWeights = maxAbsDiff(await values(trainable(model)), await values(trainable(reference)));
      const dStats = maxAbsDiff(await values(statVariables(model)), await values(statVariables(reference)));
      // Adam divides by sqrt(v), so float32 rounding in the averaging shows at ~1e-5 after a few
      // steps; an unaveraged or misassigned gradient moves weights by ~lr = 1e-3.
      assert.ok(dWeights < 1e-4, `step ${i}: weights differ by ${dWeights}`);
      assert.ok(dStats < 1e-5, `step ${i}: moving statistics differ by ${dStats}`);
    }
    refAdam.dispose();
    disposeCvae(reference);
  });

  it('keeps tensor memory flat across steps', async () => {
    await step.run(batchOf(0, 16, 1));
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await step.run(batchOf(16 * i, 16, i));
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('rejects a batch larger than it was sized for with a typed error', async () => {
    await assert.rejects(step.run(batchOf(0, 40, 1)), ParallelTrainingError);
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
    context.optimizer.dispose();
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
    context.optimizer.dispose();
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
