/**
 * Test-set reconstruction quality of a CVAE: per-pixel MSE when decoding a sampled z (what the
 * notebook's `cvae.predict` does: z = z_mean + exp(z_log_var / 2) * eps) and when decoding z_mean,
 * and the mean KL(N(z_mean, exp(z_log_var)) || N(0, I)) in nats per image.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { oneHot, PIXELS, type MnistSet } from '../engine/data.js';
import { createRng, normals } from '../engine/rng.js';
import type { GrayImage } from '../engine/types.js';
import { EvalError } from './errors.js';

export interface ReconstructionMetrics {
  readonly count: number;
  /** Per-pixel MSE decoding a sampled z (the notebook's `cvae.predict`). */
  readonly mseSampled: number;
  /** Per-pixel MSE decoding z = z_mean. */
  readonly mseMean: number;
  /** Mean KL divergence to N(0, I), nats per image (before the loss's gamma). */
  readonly kl: number;
  /** Sampled-z reconstructions of the first `keep` images, in order. */
  readonly examples: readonly GrayImage[];
}

export interface ReconstructionOptions {
  batchSize?: number;
  /** Seeds the reparameterisation noise, so the sampled MSE is reproducible. */
  seed: number;
  /** How many reconstructions (of the first images) to return for the figure. Default 10. */
  keep?: number;
  onProgress?(done: number, total: number): void;
}

/** Runs encoder and decoder (inference mode: BatchNorm uses its moving statistics, as Keras `predict`) over `set`. */
export async function reconstructionMetrics(encoder: tfl.LayersModel, decoder: tfl.LayersModel, set: MnistSet, options: ReconstructionOptions): Promise<ReconstructionMetrics> {
  if (set.count < 1) throw new EvalError('the test set is empty');
  const batchSize = Math.max(1, options.batchSize ?? 500);
  const keep = Math.min(set.count, options.keep ?? 10);
  const latentDim = (encoder.outputs[0]!.shape as number[])[1]!;
  const rng = createRng(options.seed, 'eval-reconstruction');
  let sqSampled = 0;
  let sqMean = 0;
  let klSum = 0;
  const examples: GrayImage[] = [];
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const b = end - start;
    const eps = normals(b * latentDim, rng);
    const [errSampled, errMean, kl, firstImages] = tf.tidy(() => {
      const x = tf.tensor4d(set.images.subarray(start * PIXELS, end * PIXELS), [b, 28, 28, 1]);
      const c = tf.tensor2d(oneHot(set.labels.subarray(start, end)), [b, 10]);
      const [zMean, zLogVar] = encoder.predict([x, c]) as tf.Tensor[];
      const z = tf.add(zMean!, tf.mul(tf.exp(tf.div(zLogVar!, 2)), tf.tensor2d(eps, [b, latentDim])));
      const xSampled = decoder.predict([z, c]) as tf.Tensor;
      const xMean = decoder.predict([zMean!, c]) as tf.Tensor;
      // KL per image = -1/2 sum_j (1 + log var_j - mean_j^2 - var_j); summed over the batch here.
      const klBatch = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, zLogVar!), tf.square(zMean!)), tf.exp(zLogVar!))));
      const kept = start < keep ? tf.slice(xSampled, 0, Math.min(b, keep - start)) : tf.zeros([0]);
      return [tf.sum(tf.squaredDifference(x, xSampled)), tf.sum(tf.squaredDifference(x, xMean)), klBatch, kept];
    });
    const [s, m, k, f] = await Promise.all([errSampled!.data(), errMean!.data(), kl!.data(), firstImages!.data()]);
    tf.dispose([errSampled!, errMean!, kl!, firstImages!]);
    sqSampled += s[0]!;
    sqMean += m[0]!;
    klSum += k[0]!;
    for (let i = 0; i * PIXELS < f.length; i++) {
      examples.push({ width: 28, height: 28, pixels: Float32Array.from(f.subarray(i * PIXELS, (i + 1) * PIXELS) as Float32Array) });
    }
    options.onProgress?.(end, set.count);
  }
  const pixels = set.count * PIXELS;
  return { count: set.count, mseSampled: sqSampled / pixels, mseMean: sqMean / pixels, kl: klSum / set.count, examples };
}
