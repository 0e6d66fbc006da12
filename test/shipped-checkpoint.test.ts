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
import { scoreExplore } from '../src/eval/explore.js';
import { centreStyleCodes, explorePlanner } from '../src/engine/latent-codes.js';
import { loadReplModel } from '../src/explore/model.js';
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

test('on the shipped checkpoint :style, :morph and :walk show what they promise over seeds 1-10 (shipped classifier): >= 95% of style tiles, morph ends and walk tiles recognised, p(B) rising, rows still differing', async () => {
  const model = await loadReplModel(SHIPPED_CHECKPOINT, 'wasm');
  const classifier = await loadClassifier(SHIPPED_CLASSIFIER);
  try {
    // The session's own plans (scale 1), as `cvae-repl eval` scores them.
    const { latentDim, geometry } = model.latent;
    assert.ok(geometry !== null, 'the shipped checkpoint has a fitted density');
    const planner = explorePlanner(centreStyleCodes(geometry, latentDim, 1), latentDim);
    const score = await scoreExplore(planner, model.latent.decode, classifier, {
      seed: 1,
      reference: (digit, n, rng) => model.generate(digit, n, { sampler: 'fitted', seed: rng.int(2 ** 31) }),
    });
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    assert.ok(score.style.recognised >= 0.95, `style tiles recognised ${pct(score.style.recognised)} (per label ${score.style.perLabel.map(pct).join(' ')})`);
    assert.ok(score.morph.strips >= 20);
    assert.ok(score.morph.endpoints >= 0.95, `morph ends ${pct(score.morph.endpoints)} (A ${pct(score.morph.starts)}, B ${pct(score.morph.ends)})`);
    assert.ok(score.morph.monotone >= 0.9, `p(B) monotone in ${pct(score.morph.monotone)} of strips`);
    // The label changes the digit in the middle of the strip, not only at its end.
    assert.ok(score.morph.meanCrossing >= 3 && score.morph.meanCrossing <= 7, `p(B) passes 1/2 at tile ${score.morph.meanCrossing}`);
    assert.ok(score.walk.recognised >= 0.95, `walk tiles ${pct(score.walk.recognised)} (per digit ${score.walk.perDigit.map(pct).join(' ')})`);
    // Not one handwriting for every row: rows differ by at least a third of what two ordinary samples of a digit do.
    assert.ok(score.style.rowDifference >= score.style.referenceDifference! / 3, `rows differ by ${score.style.rowDifference.toFixed(3)}, samples by ${score.style.referenceDifference!.toFixed(3)}`);
  } finally {
    model.dispose();
    classifier.dispose();
  }
});
