import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { saveCheckpoint, type CheckpointMeta } from '../src/engine/checkpoint.js';
import { InvalidArgumentError } from '../src/engine/errors.js';
import { drawLatents, loadGenerator } from '../src/engine/generator.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, seedWeights } from '../src/engine/model.js';
import type { GaussianMixture, LatentPrior } from '../src/engine/prior.js';
import { createRng } from '../src/engine/rng.js';
import type { DigitGenerator } from '../src/engine/types.js';

const root = mkdtempSync(path.join(tmpdir(), 'cvae-gen-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Digit d's codes sit at 10 * d on axis 0, tightly: easy to tell which density a code came from. */
function prior(): LatentPrior {
  const digit = (d: number): GaussianMixture => ({
    weights: [1],
    means: [Array.from({ length: 16 }, (_, j) => (j === 0 ? 10 * d : 0))],
    choleskys: [Array.from({ length: 256 }, (_, i) => (i % 17 === 0 ? 0.01 : 0))],
  });
  return { kind: 'gaussian-mixture', latentDim: 16, components: 1, digits: Array.from({ length: 10 }, (_, d) => digit(d)), samplesPerDigit: new Array(10).fill(100) };
}

function meta(withPrior: boolean): CheckpointMeta {
  return {
    formatVersion: 1, generatedBy: 'test', model: DEFAULT_MODEL_CONFIG,
    training: { batchSize: 8, learningRate: 1e-3, gamma: 1e-4, seed: 1, limit: null, adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } },
    epochsTrained: 3, trainSamples: 60000, backend: 'wasm', wallSeconds: 1,
    history: [{ epoch: 3, loss: 0.02, recon: 0.02, kl: 30, testRecon: 0.019, testKl: 31, seconds: 1 }],
    data: { fingerprint: 'f', trainCount: 60000, source: 'test' }, prior: withPrior ? prior() : null, optimizer: null, savedAt: '',
  };
}

let generator: DigitGenerator;
const dir = path.join(root, 'ck');
before(async () => {
  await initBackend('wasm');
  const model = buildCvae();
  seedWeights(model, createRng(1));
  await saveCheckpoint(dir, model, meta(true));
  disposeCvae(model);
  generator = await loadGenerator(dir, 'wasm');
});
after(() => generator?.dispose());

const same = (a: { pixels: Float32Array }[], b: { pixels: Float32Array }[]) => a.length === b.length && a.every((x, i) => x.pixels.every((v, j) => v === b[i]!.pixels[j]));

describe('DigitGenerator', () => {
  test('summarises its checkpoint and backend', () => {
    assert.equal(generator.backend, 'wasm');
    assert.deepEqual(generator.checkpoint, { dir, epochsTrained: 3, trainSamples: 60000, backendTrainedOn: 'wasm', hasFittedPrior: true, testMse: 0.019 });
  });

  test('n images of 28x28 in [0, 1]; the same seed gives the same images, calls without one differ', async () => {
    const a = await generator.generate(3, 9, { seed: 42 });
    const b = await generator.generate(3, 9, { seed: 42 });
    assert.equal(a.length, 9);
    assert.ok(a.every((img) => img.width === 28 && img.height === 28 && img.pixels.length === 784 && img.pixels.every((v) => v >= 0 && v <= 1)));
    assert.ok(same(a, b));
    const c = await generator.generate(3, 9);
    const d = await generator.generate(3, 9);
    assert.ok(!same(c, d));
    assert.ok(!same(a, await generator.generate(3, 9, { seed: 43 })));
    // Within one call the samples differ from each other.
    assert.ok(!same([a[0]!], [a[1]!]));
  });

  test('no tensor leak over 50 generations', async () => {
    await generator.generate(5, 4);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) await generator.generate(i % 10, 4, { sampler: i % 2 ? 'prior' : 'fitted' });
    assert.equal(tf.memory().numTensors, before);
  });

  test('digits outside 0-9, counts below 1 and negative scales are typed one-line errors', async () => {
    for (const [digit, n, scale] of [[10, 1, 1], [-1, 1, 1], [2.5, 1, 1], [3, 0, 1], [3, 1.5, 1], [3, 1, -1]] as const) {
      await assert.rejects(generator.generate(digit, n, { scale }), (e: unknown) => e instanceof InvalidArgumentError && !e.message.includes('\n'));
    }
    await assert.rejects(generator.generate(12, 1), /digit must be a whole number from 0 to 9, got 12/);
  });
});

describe('latent draws', () => {
  test('fitted draws come from the digit\'s own density; prior draws are N(0, scale^2 I); without a density fitted falls back to prior', () => {
    const z7 = drawLatents(prior(), 'fitted', 7, 100, 1, 16, createRng(1));
    for (let i = 0; i < 100; i++) assert.ok(Math.abs(z7[i * 16]! - 70) < 0.1);
    const zp = drawLatents(prior(), 'prior', 7, 2000, 3, 16, createRng(1));
    const sd = Math.sqrt(zp.reduce((s, v) => s + v * v, 0) / zp.length);
    assert.ok(Math.abs(sd - 3) < 0.1, `sd ${sd}`);
    const fallback = drawLatents(null, 'fitted', 7, 100, 1, 16, createRng(1));
    assert.deepEqual(fallback, drawLatents(null, 'prior', 7, 100, 1, 16, createRng(1)));
  });
});
