import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/engine/backend.js';
import { loadMnist, oneHot, type MnistSet } from '../src/engine/data.js';
import { buildCvae, type Cvae } from '../src/engine/model.js';
import { createRng, normals } from '../src/engine/rng.js';
import type { CheckpointSummary, DigitGenerator, GenerateOptions, GrayImage } from '../src/engine/types.js';
import { buildClassifier, Classifier, type ClassifierOutput } from '../src/eval/classifier.js';
import { evaluate } from '../src/eval/evaluate.js';
import { gaussianStats } from '../src/eval/frechet.js';
import { scoreSampler, type ImageClassifier } from '../src/eval/recognisability.js';
import { measureReconstruction } from '../src/engine/reconstruction.js';
import { evaluationJson, formatEvaluation, reconstructionFigure } from '../src/eval/report.js';

const summary = (hasFittedPrior: boolean): CheckpointSummary => ({ dir: '/tiny', epochsTrained: 0, trainSamples: 0, backendTrainedOn: 'wasm', hasFittedPrior });

/** Draws z ~ N(0, I) through an (untrained) decoder: the notebook's generator, enough to exercise eval's plumbing. */
function decoderGenerator(decoder: tfl.LayersModel, hasFittedPrior: boolean): DigitGenerator {
  return {
    backend: 'wasm',
    checkpoint: summary(hasFittedPrior),
    async generate(digit: number, n: number, options: GenerateOptions = {}): Promise<GrayImage[]> {
      const z = normals(n * 16, createRng(options.seed ?? 0));
      const out = tf.tidy(() => decoder.predict([tf.tensor2d(z, [n, 16]), tf.tensor2d(oneHot(new Array<number>(n).fill(digit)), [n, 10])]) as tf.Tensor);
      const pixels = (await out.data()) as Float32Array;
      out.dispose();
      return Array.from({ length: n }, (_, i) => ({ width: 28, height: 28, pixels: pixels.slice(i * 784, (i + 1) * 784) }));
    },
    dispose() {},
  };
}

let test64: MnistSet;
let cvae: Cvae;

before(async () => {
  await initBackend('wasm');
  test64 = await loadMnist('test', { limit: 64 });
  cvae = buildCvae();
});

test('recognisability counts, per digit, the samples the classifier labels as the requested digit', async () => {
  // The fake generator writes the digit it "draws" into pixel 0; every 4th sample draws the next digit instead.
  const calls: Array<{ digit: number; n: number; options?: GenerateOptions }> = [];
  const generator: DigitGenerator = {
    backend: 'cpu',
    checkpoint: summary(true),
    async generate(digit, n, options) {
      calls.push({ digit, n, options });
      return Array.from({ length: n }, (_, i) => {
        const pixels = new Float32Array(784);
        pixels[0] = (i % 4 === 3 ? (digit + 1) % 10 : digit) / 10;
        pixels[1] = (i % 7) / 7;
        return { width: 28, height: 28, pixels };
      });
    },
    dispose() {},
  };
  const classifier: ImageClassifier = {
    featureDim: 2,
    async classify(images: Float32Array, count: number): Promise<ClassifierOutput> {
      const labels = new Uint8Array(count);
      const features = new Float32Array(count * 2);
      for (let i = 0; i < count; i++) {
        labels[i] = Math.round(images[i * 784]! * 10);
        features[i * 2] = images[i * 784]!;
        features[i * 2 + 1] = images[i * 784 + 1]!;
      }
      return { count, labels, features };
    },
  };
  // The reference set: exactly what a perfect generator would give, so only the wrong digits move the distance.
  const ref: number[] = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < 40; i++) ref.push(d / 10, (i % 7) / 7);
  const score = await scoreSampler(generator, classifier, gaussianStats(ref, 400, 2), { sampler: 'prior', samplesPerDigit: 40, seed: 5, chunk: 16 });
  assert.equal(score.sampler, 'prior');
  assert.deepEqual(score.perDigit, new Array(10).fill(0.75));
  assert.equal(score.mean, 0.75);
  assert.equal(score.confusion[3]![3], 30);
  assert.equal(score.confusion[3]![4], 10);
  assert.equal(score.confusion[9]![0], 10);
  assert.ok(score.frechet > 0 && Number.isFinite(score.frechet));
  // 10 digits x ceil(40 / 16) chunks, each with the sampler and its own seed.
  assert.equal(calls.length, 30);
  assert.ok(calls.every((c) => c.options?.sampler === 'prior'));
  assert.equal(new Set(calls.map((c) => c.options?.seed)).size, 30);
  assert.deepEqual(calls.slice(0, 3).map((c) => c.n), [16, 16, 8]);
  await assert.rejects(scoreSampler(generator, classifier, gaussianStats(ref, 400, 2), { sampler: 'prior', samplesPerDigit: 1, seed: 5 }), /samples per digit/);
});

test('reconstruction metrics of a tiny model are in range, reproducible with a seed, and leak no tensors', async () => {
  const before = tf.memory().numTensors;
  const a = await measureReconstruction(cvae, test64, { seed: 7, batchSize: 24, keep: 10, atMean: true });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(a.count, 64);
  for (const v of [a.mseSampled, a.mseMean]) assert.ok(v > 0 && v < 1, `mse ${v}`);
  assert.ok(a.kl >= 0 && Number.isFinite(a.kl), `kl ${a.kl}`);
  assert.equal(a.examples.length, 10);
  for (const pixels of a.examples) {
    assert.equal(pixels.length, 784);
    assert.ok(pixels.every((p) => p >= 0 && p <= 1));
  }
  const b = await measureReconstruction(cvae, test64, { seed: 7, batchSize: 64, keep: 10, atMean: true });
  assert.ok(Math.abs(a.mseSampled - b.mseSampled) < 1e-6, 'same seed, same noise, whatever the batch size');
  assert.ok(Math.abs(a.kl - b.kl) < 1e-3 * Math.max(1, a.kl));
  const c = await measureReconstruction(cvae, test64, { seed: 8, atMean: true });
  assert.ok(Math.abs(c.mseMean - a.mseMean) < 1e-6, 'z = z_mean does not depend on the seed');
  assert.notEqual(c.mseSampled, a.mseSampled, 'another seed draws other noise');
});

test('reconstruction MSE and KL match a direct computation on one batch', async () => {
  const set = await loadMnist('test', { limit: 8 });
  const r = await measureReconstruction(cvae, set, { seed: 1, atMean: true });
  const [mse, kl] = tf.tidy(() => {
    const x = tf.tensor4d(set.images, [8, 28, 28, 1]);
    const c = tf.tensor2d(oneHot(set.labels), [8, 10]);
    const [m, lv] = cvae.encoder.predict([x, c]) as tf.Tensor[];
    const xh = cvae.decoder.predict([m!, c]) as tf.Tensor;
    const klPer = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, lv!), tf.square(m!)), tf.exp(lv!)), 1));
    return [tf.mean(tf.square(tf.sub(x, xh))).dataSync()[0]!, tf.mean(klPer).dataSync()[0]!];
  });
  assert.ok(Math.abs(r.mseMean - mse) < 1e-6, `${r.mseMean} vs ${mse}`);
  assert.ok(Math.abs(r.kl - kl) < 1e-4 * Math.max(1, kl), `${r.kl} vs ${kl}`);
});

test('a whole evaluation of a tiny model has the right shapes, skips a missing fitted sampler, and leaks nothing', async () => {
  const classifier = new Classifier(buildClassifier(0));
  const generator = decoderGenerator(cvae.decoder, false);
  const before = tf.memory().numTensors;
  const statuses: string[] = [];
  const evaluation = await evaluate(
    { encoder: cvae.encoder, decoder: cvae.decoder, generator, classifier, test: test64 },
    { samplesPerDigit: 6, seed: 3, onStatus: (m) => statuses.push(m) },
  );
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(evaluation.samplers.map((s) => s.sampler), ['prior']);
  assert.deepEqual(evaluation.skipped.map((s) => s.sampler), ['fitted']);
  const prior = evaluation.samplers[0]!;
  assert.equal(prior.perDigit.length, 10);
  assert.ok(prior.perDigit.every((p) => p >= 0 && p <= 1));
  assert.equal(prior.confusion.flat().reduce((a, b) => a + b, 0), 60);
  assert.ok(prior.frechet >= 0 && Number.isFinite(prior.frechet));
  assert.ok(evaluation.classifierTestAccuracy >= 0 && evaluation.classifierTestAccuracy <= 1);
  assert.equal(evaluation.figure.originals.length, 10);
  assert.equal(evaluation.figure.reconstructions.length, 10);
  assert.deepEqual(evaluation.figure.originals[0]!.pixels, test64.images.slice(0, 784));
  const figure = reconstructionFigure(evaluation);
  assert.deepEqual([figure.width, figure.height], [10 * 28 + 9 * 2, 2 * 28 + 2]);
  // The second row holds the reconstructions: pixel (0, 30) is the first reconstruction's (0, 0).
  assert.equal(figure.pixels[30 * figure.width]!, evaluation.figure.reconstructions[0]!.pixels[0]!);

  const json = JSON.parse(JSON.stringify(evaluationJson(evaluation, 'ckpt/classifier'))) as Record<string, any>;
  assert.deepEqual(Object.keys(json.recognisability), ['prior']);
  assert.equal(json.recognisability.prior.perDigit.length, 10);
  assert.equal(json.reconstruction.count, 64);
  assert.equal(json.examples, undefined);
  const text = formatEvaluation(evaluation, 'ckpt/classifier');
  assert.match(text, /per-pixel MSE, sampled z/);
  assert.match(text, /fitted: skipped, the checkpoint has no fitted latent density/);
  assert.match(text, /^ {2}prior +\d/m);
  assert.ok(statuses.some((s) => s.includes('prior')));
  classifier.dispose();
});
