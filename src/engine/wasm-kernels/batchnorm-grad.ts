/**
 * The gradient of FusedBatchNorm without Tile. tfjs-core's version tiles 1/sqrt(var + eps) to the
 * full [b, h, w, C] shape and makes about a dozen full-size tensors; this one broadcasts the
 * per-channel factors and shares the two reductions, sum(dy) and sum(dy * (x - mean)):
 *
 *   dx = dy * scale * r                 dmean = -sum(dy) * scale * r     (r = 1 / sqrt(var + eps))
 *   dvar = sum(dy * (x - mean)) * scale * (-r^3 / 2)
 *   dscale = sum(dy * (x - mean)) * r   doffset = sum(dy)
 *
 * Same mathematics, fewer passes over memory; it applies to every backend (gradients are global).
 */
import * as tf from '@tensorflow/tfjs-core';

let stock: tf.GradConfig | undefined;

/** tfjs-core's own FusedBatchNorm gradient, kept for tests and for the cases we do not handle. */
export function stockBatchNormGrad(): tf.GradConfig | undefined {
  return stock;
}

export const batchNormGradConfig: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = dyIn as tf.Tensor;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    if (mean.rank !== 1 || variance.rank !== 1 || x.rank < 2) {
      return stock!.gradFunc(dyIn, saved, attrs);
    }
    const eps = (attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    // Shared by several input gradients, so computed here: the tape runs each returned closure in
    // its own tidy, and these are freed with the rest of the backward pass.
    const r = tf.rsqrt(tf.add(variance, eps));
    const scaleR = scale ? tf.mul(scale, r) : r;
    const sumDy = tf.sum(dy, axes);
    const sumDyXc = tf.sum(tf.mul(dy, tf.sub(x, mean)), axes);
    return {
      x: () => tf.mul(dy, scaleR),
      mean: () => tf.neg(tf.mul(sumDy, scaleR)),
      variance: () => tf.mul(tf.mul(sumDyXc, scaleR), tf.mul(tf.square(r), -0.5)),
      scale: () => tf.mul(sumDyXc, r),
      offset: () => tf.reshape(sumDy, mean.shape),
    };
  },
};

/** Replaces tfjs-core's FusedBatchNorm gradient (once). */
export function registerBatchNormGrad(): void {
  const current = tf.getGradient('FusedBatchNorm');
  if (current === batchNormGradConfig) return;
  stock ??= current;
  tf.registerGradient(batchNormGradConfig);
}
