/**
 * Drawing digits from a trained decoder: latent codes from the fitted per-digit density (default) or
 * the notebook's N(0, I), decoded in inference mode, returned as plain images. Tensor memory stays flat.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from './backend.js';
import { loadCheckpoint, summarizeCheckpoint, type CheckpointMeta } from './checkpoint.js';
import { IMAGE_SIZE, NUM_CLASSES, oneHot, PIXELS } from './data.js';
import { InvalidArgumentError } from './errors.js';
import { runModel } from './model.js';
import { sampleMixture, type LatentPrior } from './prior.js';
import { createRng, freshSeed, normals, type Rng } from './rng.js';
import type { BackendChoice, BackendName, DigitGenerator, GenerateOptions, GrayImage, SamplerName } from './types.js';

/** Most images one `generate` call draws (a 100x100 grid); bigger requests are almost certainly typos. */
export const MAX_GENERATE = 10_000;

/** Decodes latent codes [n * latentDim] with labels `digits` [n] to n 28x28 images (training = false). */
export function decodeToImages(decoder: tfl.LayersModel, z: Float32Array, digits: ArrayLike<number>, latentDim: number): Promise<GrayImage[]> {
  return decodeLabelled(decoder, z, oneHot(digits), latentDim);
}

/**
 * Decodes latent codes [n * latentDim] with label vectors [n * 10] to n 28x28 images (training = false).
 * A label vector is one-hot for a digit, or a blend of two for `:morph`.
 */
export async function decodeLabelled(decoder: tfl.LayersModel, z: Float32Array, labels: Float32Array, latentDim: number): Promise<GrayImage[]> {
  const n = labels.length / NUM_CLASSES;
  if (!Number.isInteger(n) || z.length !== n * latentDim) throw new RangeError(`decode: ${z.length} latent values for ${labels.length / NUM_CLASSES} labels of ${latentDim} dimensions`);
  const pixels = tf.tidy(() => runModel(decoder, [tf.tensor2d(z, [n, latentDim]), tf.tensor2d(labels, [n, NUM_CLASSES])], false)[0]!);
  const data = (await pixels.data()) as Float32Array;
  pixels.dispose();
  return Array.from({ length: n }, (_, i) => ({ width: IMAGE_SIZE, height: IMAGE_SIZE, pixels: data.slice(i * PIXELS, (i + 1) * PIXELS) }));
}

/** Latent codes for `n` images of `digit`: from the fitted mixture, or z ~ N(0, scale^2 I). */
export function drawLatents(prior: LatentPrior | null, sampler: SamplerName, digit: number, n: number, scale: number, latentDim: number, rng: Rng): Float32Array {
  const mixture = prior?.digits[digit];
  if (sampler === 'fitted' && mixture) return sampleMixture(mixture, n, scale, rng);
  const z = normals(n * latentDim, rng);
  for (let i = 0; i < z.length; i++) z[i]! *= scale;
  return z;
}

/** Checks `generate`'s arguments; throws InvalidArgumentError with a one-line message. */
export function validateGenerateArgs(digit: number, n: number, scale: number): void {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) throw new InvalidArgumentError(`digit must be a whole number from 0 to 9, got ${digit}`);
  if (!Number.isInteger(n) || n < 1 || n > MAX_GENERATE) throw new InvalidArgumentError(`count must be a whole number from 1 to ${MAX_GENERATE}, got ${n}`);
  if (!Number.isFinite(scale) || scale < 0) throw new InvalidArgumentError(`scale must be a number >= 0, got ${scale}`);
}

/** A DigitGenerator over an in-memory decoder (owned: `dispose` releases it). */
export function createGenerator(decoder: tfl.LayersModel, meta: CheckpointMeta, dir: string, backend: BackendName): DigitGenerator {
  const latentDim = meta.model.latentDim;
  // Without a seed each call continues this stream, so every call draws fresh samples.
  const stream = createRng(freshSeed());
  let disposed = false;
  return {
    backend,
    checkpoint: summarizeCheckpoint(dir, meta),
    async generate(digit: number, n: number, options: GenerateOptions = {}): Promise<GrayImage[]> {
      if (disposed) throw new InvalidArgumentError('this generator was disposed; load the checkpoint again');
      const scale = options.scale ?? 1;
      validateGenerateArgs(digit, n, scale);
      const sampler = options.sampler ?? 'fitted';
      const rng = options.seed === undefined ? stream : createRng(options.seed, 'generate');
      const z = drawLatents(meta.prior, sampler, digit, n, scale, latentDim, rng);
      return decodeToImages(decoder, z, new Array<number>(n).fill(digit), latentDim);
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      decoder.dispose();
    },
  };
}

/** Initialises `backend`, loads and validates the checkpoint in `checkpointDir`, and returns a generator over its decoder. */
export async function loadGenerator(checkpointDir: string, backend: BackendChoice): Promise<DigitGenerator> {
  const name = await initBackend(backend);
  const { encoder, decoder, meta, dir } = await loadCheckpoint(checkpointDir);
  encoder.dispose(); // sampling needs only the decoder
  return createGenerator(decoder, meta, dir, name);
}
