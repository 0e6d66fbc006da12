import assert from 'node:assert/strict';
import { test } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildCvae, disposeCvae } from '../src/engine/model.js';

await tf.setBackend('cpu');

const shapes = (model: tfl.LayersModel) =>
  Object.fromEntries(model.layers.map((layer) => [layer.name, (layer.outputShape as number[]).slice(1)]));

test('245,057 parameters as Keras counts them (trainable + BatchNorm moving statistics)', () => {
  const cvae = buildCvae();
  assert.equal(cvae.encoder.countParams() + cvae.decoder.countParams(), 245_057);
  const count = (weights: tf.Variable[] | tfl.LayerVariable[]) => weights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  const nonTrainable = count(cvae.encoder.nonTrainableWeights) + count(cvae.decoder.nonTrainableWeights);
  assert.equal(nonTrainable, 64); // 2 BatchNorms x 16 channels x (moving mean + moving variance)
  disposeCvae(cvae);
});

test('every layer has the notebook output shape', () => {
  const cvae = buildCvae();
  assert.deepEqual(shapes(cvae.encoder), {
    image: [28, 28, 1], label: [10], enc_label_1x1: [1, 1, 10], enc_label_broadcast: [28, 28, 10], enc_concat: [28, 28, 11],
    enc_conv1: [14, 14, 16], enc_bn: [14, 14, 16], enc_bn_swish: [14, 14, 16], enc_conv2: [14, 14, 16],
    enc_conv3: [7, 7, 32], enc_conv4: [7, 7, 32], enc_conv5: [4, 4, 64], enc_conv6: [4, 4, 64],
    enc_flatten: [1024], enc_dense: [64], z_mean: [16], z_log_var: [16],
  });
  assert.deepEqual(shapes(cvae.decoder), {
    z: [16], label: [10], dec_concat: [26], dec_dense: [1024], dec_reshape: [4, 4, 64], dec_conv1: [4, 4, 64],
    dec_convT1: [8, 8, 32], dec_conv2: [8, 8, 32], dec_convT2: [16, 16, 16], dec_conv3: [14, 14, 16],
    dec_convT3: [28, 28, 16], dec_conv4: [28, 28, 16], dec_bn: [28, 28, 16], dec_bn_swish: [28, 28, 16], dec_out: [28, 28, 1],
  });
  disposeCvae(cvae);
});

test('Keras defaults: swish activations, BatchNorm 0.99 / 1e-3, zero biases, Glorot-uniform bounds', () => {
  const cvae = buildCvae();
  const config = (name: string) => cvae.encoder.getLayer(name).getConfig() as Record<string, unknown>;
  assert.equal(config('enc_conv2').activation, 'swish');
  assert.equal(config('enc_conv1').activation, 'linear'); // BatchNorm then swish follow
  assert.equal(config('enc_bn').momentum, 0.99);
  assert.equal(config('enc_bn').epsilon, 1e-3);
  assert.equal(cvae.decoder.getLayer('dec_out').getConfig().activation, 'sigmoid');
  const [kernel, bias] = cvae.encoder.getLayer('enc_conv6').getWeights() as [tf.Tensor, tf.Tensor];
  const limit = Math.sqrt(6 / (9 * 64 + 9 * 64)); // Glorot-uniform: sqrt(6 / (fan_in + fan_out))
  const k = kernel.dataSync();
  assert.ok(k.every((v) => Math.abs(v) <= limit * (1 + 1e-6))); // float32 rounding
  assert.ok(Math.max(...k.map(Math.abs)) > 0.9 * limit);
  assert.ok(bias.dataSync().every((v) => v === 0));
  // tfjs-layers defaults to Glorot-normal; a Dense kernel must be uniform too: within sqrt(6 / (1024 + 26)), spread to the edge.
  const dense = cvae.decoder.getLayer('dec_dense').getWeights()[0]!.dataSync();
  const denseLimit = Math.sqrt(6 / (26 + 1024));
  assert.ok(dense.every((v) => Math.abs(v) <= denseLimit * (1 + 1e-6)));
  assert.ok(dense.filter((v) => Math.abs(v) > 0.9 * denseLimit).length > 0.05 * dense.length); // uniform: ~10% beyond 0.9 limit
  disposeCvae(cvae);
});

test('the label conditions the encoder, and the decoder maps [z, label] to [b, 28, 28, 1] in (0, 1)', () => {
  const cvae = buildCvae();
  const image = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 1);
  const [a, b] = cvae.encoder.predict([image, tf.cast(tf.oneHot([3, 3], 10), "float32")]) as tf.Tensor[];
  const [c] = cvae.encoder.predict([image, tf.cast(tf.oneHot([3, 4], 10), "float32")]) as tf.Tensor[];
  assert.deepEqual(a!.shape, [2, 16]);
  assert.deepEqual(b!.shape, [2, 16]);
  const ad = a!.arraySync() as number[][];
  const cd = c!.arraySync() as number[][];
  assert.deepEqual(ad[0], cd[0]);
  assert.notDeepEqual(ad[1], cd[1]);
  const out = cvae.decoder.predict([tf.randomNormal([2, 16], 0, 1, 'float32', 2), tf.cast(tf.oneHot([0, 9], 10), "float32")]) as tf.Tensor;
  assert.deepEqual(out.shape, [2, 28, 28, 1]);
  assert.ok(out.dataSync().every((v) => v > 0 && v < 1));
  tf.dispose([image, a!, b!, c!, out]);
  disposeCvae(cvae);
});
