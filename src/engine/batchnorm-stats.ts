/**
 * Exact BatchNorm statistics for the finished model ("precise BN", Wu & Johnson, "Rethinking 'Batch'
 * in BatchNorm", 2021). Training keeps Keras' moving averages: an exponential average (momentum 0.99)
 * of batch statistics over the last ~100 steps, taken while the weights were still moving. At the end
 * of a run this replaces them with the mean and variance of each BatchNorm layer's input over the
 * whole training set, computed with the final weights. The weights themselves do not change.
 *
 * The encoder's BatchNorm is measured first (its input does not depend on any BatchNorm), then the
 * decoder's, on the inputs it sees at inference: the encoder in inference mode with its new
 * statistics, and z sampled from q(z|x) as in training.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { MnistSet } from './data.js';
import { layerInput, modelInputs, runModel, sampleLatent, type Cvae } from './model.js';
import { normals, type Rng } from './rng.js';

/** Per-channel mean and (population) variance of one BatchNorm layer's input. */
export interface ChannelMoments {
  readonly layer: string;
  readonly mean: Float64Array;
  readonly variance: Float64Array;
}

/**
 * Training images measured by default, chosen on held-out training images (tools/select-on-held-out.ts,
 * shipped checkpoint, seed 2): statistics measured on N images of the training slice 0-49,999,
 * reconstruction MSE (sampled z) of the held-out slice 50,000-59,999, for two disjoint windows of N
 * images each:
 *   N=1,000 0.006130 / 0.006124 | 2,500 0.006115 / 0.006116 | 5,000 0.006113 / 0.006117
 *   10,000 0.006115 / 0.006119 | 25,000 0.006122 / 0.006115 | 50,000 0.006113
 * From 2,500 images on, the error is that of all 50,000 within the windows' own spread (1e-5); 1,000
 * is not (seed 1 read the same). 5,000 keeps a factor of two in hand for other checkpoints.
 */
export const PRECISE_BN_IMAGES = 5_000;

export interface PreciseBatchNormOptions {
  /** Noise for z in the decoder's pass. */
  rng: Rng;
  /** Measure the first `images` examples of the set (default PRECISE_BN_IMAGES). */
  images?: number;
  batchSize?: number;
  signal?: AbortSignal;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The BatchNormalization layers of a model, in topological order. */
export function batchNormLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((layer) => layer.getClassName() === 'BatchNormalization');
}

/**
 * Sets every BatchNorm layer's moving mean and variance to the statistics of its input over the first
 * `options.images` examples of `set`.
 * Returns the moments it set, or undefined if `signal` aborted (the model is then unchanged).
 */
export async function preciseBatchNorm(model: Cvae, set: MnistSet, latentDim: number, options: PreciseBatchNormOptions): Promise<ChannelMoments[] | undefined> {
  const batchSize = options.batchSize ?? 500;
  const count = Math.min(set.count, options.images ?? PRECISE_BN_IMAGES);
  const originals = [...batchNormLayers(model.encoder), ...batchNormLayers(model.decoder)].map((layer) => ({ layer, weights: layer.getWeights().map((w) => tf.clone(w)) }));
  const results: ChannelMoments[] = [];
  try {
    for (const { layer } of originals) {
      const inEncoder = model.encoder.layers.includes(layer);
      const channels = (layer.getWeights()[2]!.shape as number[])[0]!;
      // Running mean and sum of squared deviations per channel, merged batch by batch (Chan et al.)
      // so that float32 sums never cancel.
      const mean = new Float64Array(channels);
      const m2 = new Float64Array(channels);
      let rows = 0; // values per channel seen so far: examples x positions
      for (let start = 0; start < count; start += batchSize) {
        if (options.signal?.aborted) {
          restore(originals);
          return undefined;
        }
        const size = Math.min(batchSize, count - start);
        const eps = inEncoder ? undefined : normals(size * latentDim, options.rng);
        const moments = tf.tidy(() => {
          const [images, labels] = modelInputs(set, start, size);
          let x: tf.Tensor;
          if (inEncoder) {
            x = layerInput(model.encoder, [images, labels], layer.name);
          } else {
            const [zMean, zLogVar] = runModel(model.encoder, [images, labels], false);
            x = layerInput(model.decoder, [sampleLatent(zMean!, zLogVar!, tf.tensor2d(eps!, [size, latentDim])), labels], layer.name);
          }
          const flat = tf.reshape(x, [-1, channels]);
          const batchMean = tf.mean(flat, 0);
          return tf.stack([batchMean, tf.sum(tf.square(tf.sub(flat, batchMean)), 0), tf.fill([channels], flat.shape[0]!)]);
        });
        const values = (await moments.data()) as Float32Array;
        moments.dispose();
        const n = values[2 * channels]!;
        for (let c = 0; c < channels; c++) {
          const delta = values[c]! - mean[c]!;
          mean[c]! += (delta * n) / (rows + n);
          m2[c]! += values[channels + c]! + (delta * delta * rows * n) / (rows + n);
        }
        rows += n;
        await yieldToEventLoop();
      }
      const variance = m2.map((value) => value / rows);
      const [gamma, beta] = layer.getWeights();
      const next = [tf.tensor1d(Float32Array.from(mean)), tf.tensor1d(Float32Array.from(variance))];
      layer.setWeights([gamma!, beta!, ...next]);
      tf.dispose(next);
      results.push({ layer: layer.name, mean, variance });
    }
    return results;
  } finally {
    for (const { weights } of originals) tf.dispose(weights);
  }
}

function restore(originals: ReadonlyArray<{ layer: tfl.layers.Layer; weights: tf.Tensor[] }>): void {
  for (const { layer, weights } of originals) layer.setWeights(weights);
}
