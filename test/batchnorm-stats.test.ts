import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { batchNormLayers, preciseBatchNorm } from '../src/engine/batchnorm-stats.js';
import { loadMnist, type MnistSet } from '../src/engine/data.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, layerInput, modelInputs, runModel, seedWeights, type Cvae } from '../src/engine/model.js';
import { createRng, normals } from '../src/engine/rng.js';

const LATENT = DEFAULT_MODEL_CONFIG.latentDim;
let set: MnistSet;

before(async () => {
  await initBackend('wasm');
  set = await loadMnist('test', { limit: 300 });
});

function seeded(): Cvae {
  const model = buildCvae();
  seedWeights(model, createRng(11, 'init'));
  return model;
}

/** Mean and variance of enc_bn's input over the first n examples, in one batch: the reference. */
function encoderMoments(model: Cvae, n: number): { mean: Float32Array; variance: Float32Array } {
  return tf.tidy(() => {
    const x = layerInput(model.encoder, modelInputs(set, 0, n), 'enc_bn');
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return { mean: mean.dataSync() as Float32Array, variance: variance.dataSync() as Float32Array };
  });
}

const stats = (model: Cvae) => [...batchNormLayers(model.encoder), ...batchNormLayers(model.decoder)].map((l) => l.getWeights().slice(2).map((w) => Array.from(w.dataSync())));

test('the moving statistics become the exact mean and variance of each BatchNorm input, however the data is batched', async () => {
  const model = seeded();
  try {
    const before = stats(model);
    const tensors = tf.memory().numTensors;
    // 300 examples in batches of 128: uneven batches must merge to the one-batch moments.
    const measured = await preciseBatchNorm(model, set, LATENT, { rng: createRng(1, 'bn'), batchSize: 128 });
    assert.equal(tf.memory().numTensors, tensors, 'no tensors left behind');
    assert.deepEqual(measured?.map((m) => m.layer), ['enc_bn', 'dec_bn']);
    const reference = encoderMoments(model, 300);
    const [encMean, encVar] = stats(model)[0]!;
    for (let c = 0; c < reference.mean.length; c++) {
      assert.ok(Math.abs(encMean![c]! - reference.mean[c]!) < 1e-4 * (1 + Math.abs(reference.mean[c]!)), `enc_bn mean[${c}]`);
      assert.ok(Math.abs(encVar![c]! - reference.variance[c]!) < 1e-3 * reference.variance[c]!, `enc_bn variance[${c}]`);
    }
    // The decoder's input comes from the encoder in inference mode (with its new statistics) and z
    // sampled from q(z|x) with the given noise stream: the same computed here in one batch.
    const decoderReference = tf.tidy(() => {
      const [images, labels] = modelInputs(set, 0, 300);
      const [zMean, zLogVar] = runModel(model.encoder, [images, labels], false);
      const z = tf.add(zMean!, tf.mul(tf.exp(tf.div(zLogVar!, 2)), tf.tensor2d(normals(300 * LATENT, createRng(1, 'bn')), [300, LATENT])));
      const { mean, variance } = tf.moments(layerInput(model.decoder, [z, labels], 'dec_bn'), [0, 1, 2]);
      return { mean: mean.dataSync(), variance: variance.dataSync() };
    });
    const [decMean, decVar] = stats(model)[1]!;
    assert.notDeepEqual([decMean, decVar], before[1]);
    for (let c = 0; c < decoderReference.mean.length; c++) {
      assert.ok(Math.abs(decMean![c]! - decoderReference.mean[c]!) < 1e-3 * Math.sqrt(decoderReference.variance[c]!), `dec_bn mean[${c}]`);
      assert.ok(Math.abs(decVar![c]! - decoderReference.variance[c]!) < 1e-3 * decoderReference.variance[c]!, `dec_bn variance[${c}]`);
    }
  } finally {
    disposeCvae(model);
  }
});

test('only the first `images` examples are measured, and an aborted measurement leaves the model as it was', async () => {
  const model = seeded();
  try {
    await preciseBatchNorm(model, set, LATENT, { rng: createRng(1, 'bn'), images: 100, batchSize: 64 });
    const reference = encoderMoments(model, 100);
    const [encMean] = stats(model)[0]!;
    assert.ok(encMean!.every((v, c) => Math.abs(v - reference.mean[c]!) < 1e-4 * (1 + Math.abs(v))));

    const before = stats(model);
    const controller = new AbortController();
    controller.abort();
    assert.equal(await preciseBatchNorm(model, set, LATENT, { rng: createRng(2, 'bn'), signal: controller.signal }), undefined);
    assert.deepEqual(stats(model), before);
  } finally {
    disposeCvae(model);
  }
});
