/**
 * One training step of the notebook's recipe on the app's model (src/engine/model.ts), for the
 * benchmark and profiling tools: loss = per-pixel MSE + gamma * mean KL, Adam(5e-4, eps 1e-7).
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildCvae, runModel, type Cvae } from '../src/engine/model.js';

export const LATENT = 16;

export function trainableVariables(m: Cvae): tf.Variable[] {
  return [...m.encoder.trainableWeights, ...m.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
}

/** The notebook's loss on a batch, in training mode (BatchNorm on batch statistics). */
export function cvaeLoss(m: Cvae, x: tf.Tensor4D, c: tf.Tensor2D, eps: tf.Tensor2D, gamma = 1e-4): tf.Scalar {
  const [mu, lv] = runModel(m.encoder, [x, c], true) as [tf.Tensor2D, tf.Tensor2D];
  const z = tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), eps));
  const [xHat] = runModel(m.decoder, [z, c], true);
  const rec = tf.mean(tf.squaredDifference(xHat!, x));
  const kl = tf.mean(tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, lv), tf.add(tf.square(mu), tf.exp(lv))), -1)));
  return tf.add(rec, tf.mul(gamma, kl)) as tf.Scalar;
}

/** A plain single-thread step: gradients then Adam. Returns the loss (caller disposes). */
export function makeTrainStep(m: Cvae, optimizer: tf.Optimizer, gamma = 1e-4) {
  const vars = trainableVariables(m);
  return (x: tf.Tensor4D, c: tf.Tensor2D, eps: tf.Tensor2D): tf.Scalar =>
    optimizer.minimize(() => cvaeLoss(m, x, c, eps, gamma), true, vars) as tf.Scalar;
}

export { buildCvae };

/** A random batch shaped like MNIST (pixels in [0, 1], one-hot labels). */
export function randomBatch(n: number, seed = 1): { x: tf.Tensor4D; c: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
    const labels = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10), 'int32');
    const c = tf.cast(tf.oneHot(labels, 10), 'float32') as tf.Tensor2D;
    return { x, c };
  });
}
