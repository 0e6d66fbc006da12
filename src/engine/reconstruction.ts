/**
 * How well a CVAE reconstructs a set, in inference mode (BatchNorm uses its moving statistics, as Keras
 * `predict` and `evaluate`): the per-pixel MSE decoding a sampled z (the notebook's `cvae.predict`,
 * z = z_mean + exp(z_log_var / 2) eps), optionally the MSE decoding z_mean, and the mean KL to N(0, I).
 *
 * The one place these numbers are computed: the trainer's per-epoch history and its finish, and
 * `cvae-repl eval`, so the same checkpoint and seed give the same test MSE everywhere. The noise is drawn
 * example by example from one stream, so it does not depend on the batch size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, PIXELS, type MnistSet } from './data.js';
import { InvalidArgumentError } from './errors.js';
import { modelInputs, runModel, sampleLatent, type Cvae } from './model.js';
import { createRng, normals } from './rng.js';
import { klDivergence } from './step.js';

/** The noise seed of the trainer's test metrics, and `eval`'s default: both then report the same MSE. */
export const RECONSTRUCTION_SEED = 1;

export interface Reconstruction {
  readonly count: number;
  /** Per-pixel MSE decoding a sampled z. */
  readonly mseSampled: number;
  /** Per-pixel MSE decoding z = z_mean (NaN unless `atMean`). */
  readonly mseMean: number;
  /** Mean KL divergence to N(0, I), nats per image (before the loss's gamma). */
  readonly kl: number;
  /** Sampled-z reconstructions of the first `keep` examples, 784 pixels each, in order. */
  readonly examples: readonly Float32Array[];
}

export interface ReconstructionOptions {
  /** Seeds the reparameterisation noise. Default RECONSTRUCTION_SEED. */
  seed?: number;
  /** Also decode z_mean (one more decoder pass). */
  atMean?: boolean;
  /** Sampled reconstructions of the first `keep` examples to return. Default 0. */
  keep?: number;
  batchSize?: number;
  onProgress?(done: number, total: number): void;
}

/** Reconstructs every example of `set`; leaves the model unchanged. */
export async function measureReconstruction(model: Cvae, set: MnistSet, options: ReconstructionOptions = {}): Promise<Reconstruction> {
  if (set.count < 1) throw new InvalidArgumentError('cannot measure reconstruction on an empty set');
  const latentDim = (model.encoder.outputs[0]!.shape as number[])[1]!;
  const rng = createRng(options.seed ?? RECONSTRUCTION_SEED, 'reconstruction');
  const keep = Math.min(set.count, options.keep ?? 0);
  const atMean = options.atMean === true;
  let sqSampled = 0;
  let sqMean = 0;
  let klSum = 0;
  const examples: Float32Array[] = [];
  for (const [start, end] of batchRanges(set.count, Math.max(1, options.batchSize ?? 500))) {
    const b = end - start;
    const eps = normals(b * latentDim, rng);
    const [terms, kept] = tf.tidy(() => {
      const [x, c] = modelInputs(set, start, b);
      const [zMean, zLogVar] = runModel(model.encoder, [x, c], false) as [tf.Tensor2D, tf.Tensor2D];
      const sampled = runModel(model.decoder, [sampleLatent(zMean, zLogVar, tf.tensor2d(eps, [b, latentDim])), c], false)[0]!;
      const sums = [tf.sum(tf.squaredDifference(x, sampled)), tf.sum(klDivergence(zMean, zLogVar))];
      if (atMean) sums.push(tf.sum(tf.squaredDifference(x, runModel(model.decoder, [zMean, c], false)[0]!)));
      return [tf.stack(sums), start < keep ? tf.slice(sampled, 0, Math.min(b, keep - start)) : tf.zeros([0])];
    });
    const [values, pixels] = await Promise.all([terms.data(), kept.data()]);
    tf.dispose([terms, kept]);
    sqSampled += values[0]!;
    klSum += values[1]!;
    if (atMean) sqMean += values[2]!;
    for (let i = 0; i * PIXELS < pixels.length; i++) examples.push(Float32Array.from(pixels.subarray(i * PIXELS, (i + 1) * PIXELS) as Float32Array));
    options.onProgress?.(end, set.count);
    // Let a UI repaint between batches.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const pixels = set.count * PIXELS;
  return { count: set.count, mseSampled: sqSampled / pixels, mseMean: atMean ? sqMean / pixels : NaN, kl: klSum / set.count, examples };
}
