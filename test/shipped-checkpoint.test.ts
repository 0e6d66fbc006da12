/**
 * The checkpoint the repository ships is what `npx cvae-repl` opens on a fresh clone: it must be the
 * notebook's full recipe, and it must draw the digit that is asked for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCheckpointMeta } from '../src/engine/checkpoint.js';
import { PRECISE_BN_IMAGES } from '../src/engine/batchnorm-stats.js';
import { PIXELS } from '../src/engine/data.js';
import { DEFAULT_PRIOR_COMPONENTS } from '../src/engine/prior.js';
import { loadGenerator } from '../src/engine/generator.js';
import { DEFAULT_TRAIN_OPTIONS } from '../src/engine/types.js';
import { loadClassifier } from '../src/eval/classifier.js';
import { SHIPPED_CHECKPOINT, SHIPPED_CLASSIFIER } from '../src/config/paths.js';

test('the shipped checkpoint is the notebook recipe, complete: 30 epochs on all 60,000 images, with its history and fitted density', async () => {
  const meta = await readCheckpointMeta(SHIPPED_CHECKPOINT);
  assert.equal(meta.epochsTrained, DEFAULT_TRAIN_OPTIONS.epochs);
  assert.equal(meta.trainSamples, 60000);
  assert.equal(meta.training.limit, null);
  assert.deepEqual(
    { batchSize: meta.training.batchSize, learningRate: meta.training.learningRate, gamma: meta.training.gamma },
    { batchSize: 128, learningRate: 0.0005, gamma: 0.0001 },
  );
  assert.equal(meta.model.latentDim, 16);
  assert.deepEqual(meta.history.map((h) => h.epoch), Array.from({ length: 30 }, (_, i) => i + 1));
  for (const h of meta.history) assert.ok(h.testRecon > 0 && h.testRecon < 0.05 && h.testKl > 0 && h.seconds > 0, `epoch ${h.epoch}`);
  assert.ok(meta.wallSeconds > 0 && meta.backend.length > 0);
  assert.ok(meta.prior !== null, 'the fitted latent density is stored');
  // Finished: exact BatchNorm statistics for the final weights, and the finished model's test error.
  // ... with the settings the trainer uses now, which were chosen on held-out training images.
  assert.equal(meta.finish?.batchNormImages, PRECISE_BN_IMAGES);
  assert.equal(meta.prior.components, DEFAULT_PRIOR_COMPONENTS);
  assert.ok(meta.finish.testRecon > 0 && meta.finish.testRecon < 0.05);
});

test('the shipped checkpoint draws the requested digit: the shipped classifier recognises at least 95% of 50 fitted samples per digit', async () => {
  const generator = await loadGenerator(SHIPPED_CHECKPOINT, 'wasm');
  const classifier = await loadClassifier(SHIPPED_CLASSIFIER);
  try {
    const perDigit: number[] = [];
    for (let digit = 0; digit < 10; digit++) {
      const images = await generator.generate(digit, 50, { sampler: 'fitted', seed: 1 });
      const pixels = new Float32Array(images.length * PIXELS);
      images.forEach((image, i) => pixels.set(image.pixels, i * PIXELS));
      const { labels } = await classifier.classify(pixels, images.length);
      perDigit.push(labels.filter((label) => label === digit).length / images.length);
    }
    // `cvae-repl eval` measured 99.0% over 1,000 samples per digit; 50 per digit keeps this fast.
    const mean = perDigit.reduce((a, b) => a + b, 0) / 10;
    assert.ok(mean >= 0.95, `recognised ${(mean * 100).toFixed(1)}% (per digit: ${perDigit.map((p) => (p * 100).toFixed(0)).join(' ')})`);
    for (const [digit, share] of perDigit.entries()) assert.ok(share >= 0.8, `digit ${digit}: ${(share * 100).toFixed(0)}%`);
  } finally {
    generator.dispose();
    classifier.dispose();
  }
});
