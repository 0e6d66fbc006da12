/**
 * The mathematics of one training step, each against an oracle that shares no code with the path
 * under test: tfjs-layers' own BatchNormalization (stock tfjs-core gradient, cpu backend), the
 * closed-form loss computed here in float64, central finite differences of the loss, and Adam's
 * update written out by hand.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Adam } from '../src/engine/adam.js';
import { initBackend } from '../src/engine/backend.js';
import { syncBatchNorm, WHOLE_BATCH } from '../src/engine/batchnorm-sync.js';
import { convOfData, isPlainConv } from '../src/engine/data-conv.js';
import { loadMnist, sliceBatch, type MnistSet } from '../src/engine/data.js';
import { buildCvae, runModel, sampleLatent, seedWeights, trainableVariables, type Cvae } from '../src/engine/model.js';
import { createRng, normals } from '../src/engine/rng.js';
import { measureReconstruction } from '../src/engine/reconstruction.js';
import { computeGradients, cvaeLoss, type TrainBatch } from '../src/engine/step.js';

let data: MnistSet;

before(async () => {
  await initBackend('cpu');
  data = await loadMnist('train', { limit: 8 });
});

function batchOf(size: number, seed: number): TrainBatch {
  return { ...sliceBatch(data, 0, size), eps: normals(size * 16, createRng(seed, 'eps')) };
}

function seededModel(): Cvae {
  const model = buildCvae();
  seedWeights(model, createRng(11, 'init'));
  // Move the code away from N(0, I), so that the KL term has a gradient worth measuring
  // (at initialisation z_mean ~ 0 and z_log_var ~ 0, where KL and its gradient vanish).
  for (const [name, value] of [['z_mean', 0.7], ['z_log_var', 0.9]] as const) {
    const layer = model.encoder.getLayer(name);
    const [kernel, bias] = layer.getWeights();
    layer.setWeights([kernel!, tf.fill(bias!.shape, value)]);
  }
  return model;
}

const tensors = (batch: TrainBatch) =>
  [tf.tensor4d(batch.images, [batch.size, 28, 28, 1]), tf.tensor2d(batch.onehot, [batch.size, 10]), tf.tensor2d(batch.eps, [batch.size, 16])] as const;

describe('swish', () => {
  it("is x sigmoid(x) with derivative s + x s (1 - s), through tfjs-layers' own 'swish' activation", () => {
    const xs = [-6, -2.5, -0.3, 0, 0.4, 1.7, 7];
    const layer = tfl.layers.activation({ activation: 'swish' });
    const x = tf.tensor1d(xs);
    const dy = tf.tensor1d([1, -2, 0.5, 3, 1, -1, 2]);
    const y = (layer.apply(x) as tf.Tensor).dataSync();
    const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layer.apply(v) as tf.Tensor, dy)))(x).dataSync();
    const g = dy.dataSync();
    xs.forEach((v, i) => {
      const sig = 1 / (1 + Math.exp(-v));
      assert.ok(Math.abs(y[i]! - v * sig) < 1e-6 * (1 + Math.abs(v)), `swish(${v}) = ${y[i]}`);
      const want = g[i]! * (sig + v * sig * (1 - sig));
      assert.ok(Math.abs(dx[i]! - want) < 1e-5 * (1 + Math.abs(want)), `swish'(${v}) dy = ${dx[i]}, closed form ${want}`);
    });
  });
});

describe('a convolution of data (no input gradient)', () => {
  it('equals the tfjs-layers Conv2D it stands for: output, kernel and bias gradients', () => {
    const x = tf.randomNormal([3, 9, 8, 4], 0, 1, 'float32', 8);
    for (const [strides, padding] of [[2, 'same'], [1, 'valid']] as const) {
      const layer = tfl.layers.conv2d({ filters: 5, kernelSize: 3, strides, padding });
      layer.build(x.shape);
      layer.setWeights([tf.randomNormal([3, 3, 4, 5], 0, 1, 'float32', 9), tf.tensor1d([0.1, -0.2, 0.3, 0, 0.5])]);
      assert.ok(isPlainConv(layer));
      const [kernel, bias] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const dy = tf.randomNormal((layer.apply(x) as tf.Tensor).shape, 0, 1, 'float32', 10);
      const run = (f: () => tf.Tensor) => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), dy)) as tf.Scalar, [kernel!, bias!]);
        return [value.dataSync(), grads[kernel!.name]!.dataSync(), grads[bias!.name]!.dataSync()];
      };
      const got = run(() => convOfData(layer, x as tf.Tensor4D));
      const want = run(() => layer.apply(x, { training: true }) as tf.Tensor);
      ['output', 'dkernel', 'dbias'].forEach((what, k) => {
        const [a, b] = [got[k]!, want[k]!];
        assert.equal(a.length, b.length, what);
        for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4 * (1 + Math.abs(b[i]!)), `${strides} ${padding} ${what}[${i}]: ${a[i]} vs ${b[i]}`);
      });
    }
    assert.equal(isPlainConv(tfl.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'relu' })), false, 'a fused activation is not the plain conv');
  });
});

describe('synchronised BatchNorm on the whole batch', () => {
  it('equals tfjs-layers BatchNormalization in training mode: output, gradients and moving statistics', () => {
    const shape = [6, 5, 4, 3];
    const x = tf.randomNormal(shape, 0.3, 2, 'float32', 5);
    const dy = tf.randomNormal(shape, 0, 1, 'float32', 6);
    const make = () => {
      const layer = tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
      layer.build(shape);
      layer.setWeights([tf.tensor1d([1.5, -0.5, 2]), tf.tensor1d([0.1, 0.2, -0.3]), tf.tensor1d([0.5, 0, 1]), tf.tensor1d([2, 1, 0.5])]);
      return layer;
    };
    const ours = make();
    const stock = make();
    const run = (layer: tfl.layers.Layer, f: (input: tf.Tensor) => tf.Tensor) => {
      const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(x), dy)) as tf.Scalar, [gamma!, beta!]);
      const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(f(input), dy)))(x);
      return { y: value.dataSync()[0]!, dx: dx.dataSync(), dGamma: grads[gamma!.name]!.dataSync(), dBeta: grads[beta!.name]!.dataSync() };
    };
    const got = run(ours, (input) => syncBatchNorm(ours, input, WHOLE_BATCH));
    const want = run(stock, (input) => stock.apply(input, { training: true }) as tf.Tensor);
    assert.ok(Math.abs(got.y - want.y) < 1e-3 * Math.abs(want.y), `output: ${got.y} vs ${want.y}`);
    const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4 * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    close(got.dx, want.dx, 'dx');
    close(got.dGamma, want.dGamma, 'dgamma');
    close(got.dBeta, want.dBeta, 'dbeta');
    // Both ran training-mode forwards the same number of times (variableGrads, then grad): 2 updates.
    ours.nonTrainableWeights.forEach((w, i) => close(w.read().dataSync(), stock.nonTrainableWeights[i]!.read().dataSync(), w.originalName));
  });
});

describe('the loss', () => {
  it('is pixel MSE + gamma x the mean closed-form KL, on fixed inputs', () => {
    const model = seededModel();
    const batch = batchOf(4, 1);
    const gamma = 0.25;
    const [images, labels, eps] = tensors(batch);
    // The parts, from the model's own forward pass in training mode (its BatchNorm is checked above).
    const [mu, lv] = runModel(model.encoder, [images, labels], true, WHOLE_BATCH).map((t) => t.arraySync() as number[][]);
    const decoded = runModel(model.decoder, [sampleLatent(tf.tensor2d(mu!), tf.tensor2d(lv!), eps), labels], true, WHOLE_BATCH)[0]!.dataSync();
    let squares = 0;
    batch.images.forEach((x, i) => (squares += (x - decoded[i]!) ** 2));
    const recon = squares / batch.images.length;
    const kl = mu!.reduce((sum, row, r) => sum + row.reduce((s, m, j) => s - 0.5 * (1 + lv![r]![j]! - m * m - Math.exp(lv![r]![j]!)), 0), 0) / batch.size;
    assert.ok(kl > 1, `the KL term must matter here (KL ${kl})`);

    const got = cvaeLoss(model, images, labels, eps, gamma, WHOLE_BATCH);
    assert.ok(Math.abs(got.recon.dataSync()[0]! - recon) < 1e-6, `recon ${got.recon.dataSync()[0]} vs ${recon}`);
    assert.ok(Math.abs(got.kl.dataSync()[0]! - kl) < 1e-4 * kl, `kl ${got.kl.dataSync()[0]} vs ${kl}`);
    assert.ok(Math.abs(got.loss.dataSync()[0]! - (recon + gamma * kl)) < 1e-4 * (recon + gamma * kl), `loss ${got.loss.dataSync()[0]} vs ${recon + gamma * kl}`);
  });

  it('has the gradient that finite differences of the loss give', () => {
    const model = seededModel();
    const batch = batchOf(4, 2);
    const gamma = 0.25;
    const [images, labels, eps] = tensors(batch);
    const lossAt = () => tf.tidy(() => cvaeLoss(model, images, labels, eps, gamma, WHOLE_BATCH).loss.dataSync()[0]!);
    const { grads } = computeGradients(model, batch, gamma);
    const variables = trainableVariables(model);
    // Entries of the layers where each term enters: the code (KL and reconstruction), both
    // BatchNorms, the first and the last convolution, a dense kernel.
    const probes: Array<[string, number, number]> = [
      ['encoder/z_log_var/bias', 3, 1e-2],
      ['encoder/z_mean/bias', 5, 1e-2],
      ['encoder/z_log_var/kernel', 17, 1e-2],
      ['encoder/enc_bn/gamma', 2, 1e-2],
      ['encoder/enc_conv1/kernel', 40, 1e-2],
      ['encoder/enc_conv1/bias', 6, 1e-2],
      ['decoder/dec_bn/beta', 1, 1e-2],
      ['decoder/dec_bn/gamma', 7, 1e-2],
      ['decoder/dec_out/kernel', 9, 1e-2],
      ['decoder/dec_dense/kernel', 123, 1e-2],
    ];
    for (const [name, index, h] of probes) {
      const i = variables.findIndex((v) => v.name === name);
      assert.ok(i >= 0, name);
      const variable = variables[i]!.variable;
      const original = variable.dataSync().slice() as Float32Array;
      const shifted = (delta: number) => {
        const values = original.slice();
        values[index]! += delta;
        variable.assign(tf.tensor(values, variable.shape));
        return lossAt();
      };
      const numeric = (shifted(h) - shifted(-h)) / (2 * h);
      variable.assign(tf.tensor(original, variable.shape));
      const analytic = grads[i]!.dataSync()[index]!;
      assert.ok(Math.abs(analytic - numeric) < 2e-3 + 2e-2 * Math.abs(numeric), `${name}[${index}]: gradient ${analytic}, finite differences ${numeric}`);
    }
    tf.dispose(grads);
  });
});

describe('evaluation', () => {
  it('leaves every weight and BatchNorm statistic unchanged', async () => {
    const model = seededModel();
    const all = () => [...model.encoder.weights, ...model.decoder.weights].map((w) => w.read().dataSync().slice());
    const before = all();
    const metrics = await measureReconstruction(model, data, { atMean: true, batchSize: 4 });
    assert.ok(Number.isFinite(metrics.mseSampled) && Number.isFinite(metrics.mseMean) && metrics.kl > 0);
    all().forEach((values, i) => assert.deepEqual(values, before[i], `weight ${i} changed`));
  });
});

describe('Adam', () => {
  /** Runs `adam`-style steps by hand in float64 and through Adam, checking the weights after every step. */
  function checkAgainstHand(options: { lr: number; b1: number; b2: number; eps: number }, make: (variable: tf.Variable) => Adam): void {
    const { lr, b1, b2, eps } = options;
    const start = [1, -2, 0.5];
    const gradients = [
      [0.3, -1.2, 0.01],
      [-0.5, 0.4, 0.02],
      [0.2, 2.5, -0.03],
    ];
    const variable = tf.variable(tf.tensor1d(start));
    const adam = make(variable);
    const w = [...start];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    gradients.forEach((g, k) => {
      const t = k + 1;
      const stepSize = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      g.forEach((gi, i) => {
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        w[i] = w[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) + eps);
      });
      const grad = tf.tensor1d(g);
      adam.apply([grad]);
      grad.dispose();
      const got = variable.dataSync();
      w.forEach((want, i) => assert.ok(Math.abs(got[i]! - want) < 1e-6, `step ${t} w[${i}]: ${got[i]} vs ${want}`));
    });
    assert.equal(adam.step, 3);
    variable.dispose();
  }

  it("takes Keras' step, epsilon added to sqrt(v) before the bias correction of the step size", () => {
    const hyper = { lr: 0.1, b1: 0.9, b2: 0.999, eps: 0.1 };
    checkAgainstHand(hyper, (variable) => new Adam([{ name: 'w', variable }], { learningRate: hyper.lr, beta1: hyper.b1, beta2: hyper.b2, epsilon: hyper.eps }));
  });

  it("defaults to Keras' beta1 0.9, beta2 0.999 and epsilon 1e-7", () => {
    checkAgainstHand({ lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-7 }, (variable) => new Adam([{ name: 'w', variable }], { learningRate: 0.1 }));
  });
});
