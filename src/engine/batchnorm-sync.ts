/**
 * BatchNormalization in training mode over a batch that may be split across threads: synchronised
 * BatchNorm, as PyTorch's SyncBatchNorm and Keras' `synchronized=True`. Every part of the batch
 * normalises with the mean and variance over *all* rows, the backward pass uses the matching
 * whole-batch reductions, and the moving statistics move once, from the whole-batch statistics.
 * With one part (the `WHOLE_BATCH` reducer) this is plain Keras BatchNorm, so one thread and N
 * threads compute the same step, up to the order of float summation.
 *
 * Per channel, over the N values of the whole batch (x^ = (x - mean) / sqrt(var + eps), var biased):
 *   forward   y  = gamma * x^ + beta
 *   backward  dx = gamma / sqrt(var + eps) * (dy - sum(dy) / N - x^ * sum(dy * x^) / N)
 *             dgamma = sum(dy * x^)   dbeta = sum(dy)   (this part's share; the trainer sums the parts)
 * Sums cross parts in float64 (`BatchReducer.allReduce`), twice forward (the mean, then the squared
 * deviations from it: two passes, so float32 never cancels) and once backward.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Sums per-part vectors across all parts of one batch. */
export interface BatchReducer {
  /** The element-wise sum of `local` over every part; every part gets the same values (same summation order). */
  allReduce(local: Float64Array): Float64Array;
}

/** The whole batch is on this thread: the sums are the local ones. */
export const WHOLE_BATCH: BatchReducer = { allReduce: (local) => local };

type LayerVariable = tfl.layers.Layer['weights'][number];

interface BatchNormWeights {
  readonly gamma: LayerVariable;
  readonly beta: LayerVariable;
  readonly movingMean: LayerVariable;
  readonly movingVariance: LayerVariable;
  readonly momentum: number;
  readonly epsilon: number;
}

function weightsOf(layer: tfl.layers.Layer): BatchNormWeights {
  const find = (suffix: string) => {
    const weight = layer.weights.find((w) => new RegExp(`(^|/)${suffix}(_\\d+)?$`).test(w.originalName));
    if (!weight) throw new RangeError(`BatchNorm layer ${layer.name} has no ${suffix} (center and scale must be on)`);
    return weight;
  };
  const config = layer.getConfig() as { momentum: number; epsilon: number };
  return { gamma: find('gamma'), beta: find('beta'), movingMean: find('moving_mean'), movingVariance: find('moving_variance'), momentum: config.momentum, epsilon: config.epsilon };
}

const toFloat32 = (values: Float64Array, from: number, to: number, f: (v: number) => number) => Float32Array.from(values.subarray(from, to), f);

/**
 * Applies BatchNorm `layer` to `x` [..., C] in training mode with statistics over the whole batch
 * that `reducer` spans, and moves the layer's moving mean and variance (Keras: m <- m * momentum +
 * batch * (1 - momentum), biased batch variance).
 */
export function syncBatchNorm(layer: tfl.layers.Layer, x: tf.Tensor, reducer: BatchReducer): tf.Tensor {
  const { gamma, beta, movingMean, movingVariance, momentum, epsilon } = weightsOf(layer);
  const channels = x.shape[x.rank - 1]!;
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const localCount = x.size / channels;

  let mean = new Float32Array(channels);
  let variance = new Float32Array(channels);
  const normalise = tf.customGrad(((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const sums = reducer.allReduce(Float64Array.of(...(tf.sum(input, axes).dataSync() as Float32Array), localCount));
    const count = sums[channels]!;
    mean = toFloat32(sums, 0, channels, (s) => s / count);
    const centred = tf.sub(input, tf.tensor1d(mean));
    const squares = reducer.allReduce(Float64Array.from(tf.sum(tf.square(centred), axes).dataSync() as Float32Array));
    variance = toFloat32(squares, 0, channels, (s) => s / count);
    const invStd = tf.tensor1d(Float32Array.from(variance, (v) => 1 / Math.sqrt(v + epsilon)));
    const normalised = tf.mul(centred, invStd);
    save([normalised, g, invStd]);
    return {
      value: tf.add(tf.mul(normalised, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const upstream = dy as tf.Tensor;
        const [xHat, scale, r] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const sumDy = tf.sum(upstream, axes);
        const sumDyXHat = tf.sum(tf.mul(upstream, xHat), axes);
        const local = new Float64Array(2 * channels);
        local.set(sumDy.dataSync() as Float32Array, 0);
        local.set(sumDyXHat.dataSync() as Float32Array, channels);
        const total = reducer.allReduce(local);
        const meanDy = tf.tensor1d(toFloat32(total, 0, channels, (s) => s / count));
        const meanDyXHat = tf.tensor1d(toFloat32(total, channels, 2 * channels, (s) => s / count));
        const dx = tf.mul(tf.mul(scale, r), tf.sub(tf.sub(upstream, meanDy), tf.mul(xHat, meanDyXHat)));
        return [dx, sumDyXHat, sumDy];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = normalise(x, gamma.read(), beta.read());
  tf.tidy(() => {
    const decay = 1 - momentum;
    movingMean.write(tf.add(tf.mul(movingMean.read(), momentum), tf.mul(tf.tensor1d(mean), decay)));
    movingVariance.write(tf.add(tf.mul(movingVariance.read(), momentum), tf.mul(tf.tensor1d(variance), decay)));
  });
  return y;
}
