/**
 * The notebook's conditional VAE built with tfjs-layers, for the benchmark and the kernel tests
 * of the backend work (the app's own model lives in src/engine/model.ts; this copy keeps the
 * benchmark independent of it). Keras semantics: TF 'same' padding, BN momentum .99 / eps 1e-3.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export const LATENT = 16;

export interface NotebookModel {
  encoder: tfl.LayersModel;
  decoder: tfl.LayersModel;
}

function conv(filters: number, strides: number, activation: 'swish' | 'sigmoid' | 'linear', padding: 'same' | 'valid' = 'same') {
  return tfl.layers.conv2d({ filters, kernelSize: 3, strides, padding, activation });
}

function bn() {
  return tfl.layers.batchNormalization({ momentum: 0.99, epsilon: 1e-3 });
}

/** Builds encoder and decoder with freshly initialised (Glorot-uniform) weights. */
export function buildNotebookModel(): NotebookModel {
  const x = tfl.input({ shape: [28, 28, 1] });
  const c = tfl.input({ shape: [10] });
  // Label broadcast to [28, 28, 10] as the notebook's UpSampling2D((28, 28)).
  const cv = tfl.layers.reshape({ targetShape: [28, 28, 10] }).apply(tfl.layers.repeatVector({ n: 784 }).apply(c)) as tfl.SymbolicTensor;
  let y = tfl.layers.concatenate().apply([x, cv]) as tfl.SymbolicTensor;
  y = conv(16, 2, 'linear').apply(y) as tfl.SymbolicTensor;
  y = bn().apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.activation({ activation: 'swish' }).apply(y) as tfl.SymbolicTensor;
  for (const [f, s] of [
    [16, 1],
    [32, 2],
    [32, 1],
    [64, 2],
    [64, 1],
  ] as const) {
    y = conv(f, s, 'swish').apply(y) as tfl.SymbolicTensor;
  }
  y = tfl.layers.flatten().apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.dense({ units: 64, activation: 'swish' }).apply(y) as tfl.SymbolicTensor;
  const zMean = tfl.layers.dense({ units: LATENT }).apply(y) as tfl.SymbolicTensor;
  const zLogVar = tfl.layers.dense({ units: LATENT }).apply(y) as tfl.SymbolicTensor;
  const encoder = tfl.model({ inputs: [x, c], outputs: [zMean, zLogVar] });

  const z = tfl.input({ shape: [LATENT] });
  const c2 = tfl.input({ shape: [10] });
  let d = tfl.layers.concatenate().apply([z, c2]) as tfl.SymbolicTensor;
  d = tfl.layers.dense({ units: 1024, activation: 'swish' }).apply(d) as tfl.SymbolicTensor;
  d = tfl.layers.reshape({ targetShape: [4, 4, 64] }).apply(d) as tfl.SymbolicTensor;
  d = conv(64, 1, 'swish').apply(d) as tfl.SymbolicTensor;
  d = tfl.layers.conv2dTranspose({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish' }).apply(d) as tfl.SymbolicTensor;
  d = conv(32, 1, 'swish').apply(d) as tfl.SymbolicTensor;
  d = tfl.layers.conv2dTranspose({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish' }).apply(d) as tfl.SymbolicTensor;
  d = conv(16, 1, 'swish', 'valid').apply(d) as tfl.SymbolicTensor;
  d = tfl.layers.conv2dTranspose({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish' }).apply(d) as tfl.SymbolicTensor;
  d = conv(16, 1, 'linear').apply(d) as tfl.SymbolicTensor;
  d = bn().apply(d) as tfl.SymbolicTensor;
  d = tfl.layers.activation({ activation: 'swish' }).apply(d) as tfl.SymbolicTensor;
  d = conv(1, 1, 'sigmoid').apply(d) as tfl.SymbolicTensor;
  const decoder = tfl.model({ inputs: [z, c2], outputs: d });
  return { encoder, decoder };
}

/** Keras-style parameter count (BatchNorm moving statistics included). */
export function countParams(m: NotebookModel): number {
  return m.encoder.countParams() + m.decoder.countParams();
}

/** One Adam step of the notebook's loss on a batch; returns the loss (a scalar the caller disposes). */
export function makeTrainStep(m: NotebookModel, optimizer: tf.Optimizer, gamma = 1e-4) {
  const vars = [...m.encoder.trainableWeights, ...m.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
  return (x: tf.Tensor4D, c: tf.Tensor2D, eps: tf.Tensor2D): tf.Scalar =>
    optimizer.minimize(
      () => {
        const [mu, lv] = m.encoder.apply([x, c], { training: true }) as [tf.Tensor2D, tf.Tensor2D];
        const z = tf.add(mu, tf.mul(tf.exp(tf.div(lv, 2)), eps));
        const xHat = m.decoder.apply([z, c], { training: true }) as tf.Tensor4D;
        const rec = tf.mean(tf.squaredDifference(xHat, x));
        const kl = tf.mean(tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, lv), tf.add(tf.square(mu), tf.exp(lv))), -1)));
        return tf.add(rec, tf.mul(gamma, kl)) as tf.Scalar;
      },
      true,
      vars,
    ) as tf.Scalar;
}
