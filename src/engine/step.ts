/**
 * One optimisation step of the notebook's recipe, as a pure function of weights and batch.
 *
 * Loss (Keras `compile(loss='mse')` + the KLDivergenceLayer's `add_loss`):
 *   mean over pixels of (x - x_hat)^2  +  gamma * mean over the batch of KL(N(mu, exp(lv)) || N(0, I)),
 *   KL = -0.5 * sum(1 + lv - mu^2 - exp(lv)), z = mu + exp(lv / 2) * eps.
 *
 * The seam for data-parallel training: a `TrainStep` takes one batch and updates the weights. The
 * default (`createLocalStep`) is `computeGradients` then `Adam.apply`. The parallel step
 * (parallel/index.ts) gives each thread some rows of the batch: each computes its share of the
 * whole batch's loss (`BatchShare`), BatchNorm reduces over all rows, and the shares' gradients sum
 * to the whole batch's gradient, which the one `Adam` applies.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Adam } from './adam.js';
import { WHOLE_BATCH, type BatchReducer } from './batchnorm-sync.js';
import { NUM_CLASSES, IMAGE_SIZE, type Batch } from './data.js';
import { runModel, sampleLatent, trainableVariables, type Cvae, type ModelConfig } from './model.js';

/** A batch plus its reparameterisation noise eps [size * latentDim]: a step is then a pure function of weights and batch. */
export interface TrainBatch extends Batch {
  readonly eps: Float32Array;
}

/** Means over one batch. */
export interface StepMetrics {
  readonly loss: number;
  readonly recon: number;
  readonly kl: number;
}

/** One optimisation step: updates the model's weights from one batch and reports its metrics. */
export interface TrainStep {
  run(batch: TrainBatch): Promise<StepMetrics>;
  dispose?(): void | Promise<void>;
}

/** What a step factory gets. */
export interface StepContext {
  readonly model: Cvae;
  readonly optimizer: Adam;
  readonly gamma: number;
  readonly config: ModelConfig;
}

/**
 * The three loss terms as scalars, from the batch tensors, in training mode: BatchNorm normalises with
 * the statistics over the rows `batchNorm` spans (WHOLE_BATCH on one thread) and moves its moving
 * statistics. Inference-mode metrics are engine/reconstruction.ts.
 */
export function cvaeLoss(
  model: Cvae,
  images: tf.Tensor4D,
  labels: tf.Tensor2D,
  eps: tf.Tensor2D,
  gamma: number,
  batchNorm: BatchReducer,
): { loss: tf.Scalar; recon: tf.Scalar; kl: tf.Scalar } {
  const [zMean, zLogVar] = runModel(model.encoder, [images, labels], true, batchNorm) as [tf.Tensor2D, tf.Tensor2D];
  const z = sampleLatent(zMean, zLogVar, eps);
  const decoded = runModel(model.decoder, [z, labels], true, batchNorm)[0]!;
  const recon = tf.mean(tf.squaredDifference(images, decoded)) as tf.Scalar;
  const kl = tf.mean(klDivergence(zMean, zLogVar)) as tf.Scalar;
  const loss = tf.add(recon, tf.mul(kl, gamma)) as tf.Scalar;
  return { loss, recon, kl };
}

/** KL(N(mu, exp(lv)) || N(0, 1)) per row and latent dimension, in closed form: -0.5 * (1 + lv - mu^2 - exp(lv)). */
export function klPerDimension(zMean: tf.Tensor2D, zLogVar: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(-0.5, tf.sub(tf.sub(tf.add(1, zLogVar), tf.square(zMean)), tf.exp(zLogVar)));
}

/** KL(N(mu, exp(lv)) || N(0, I)) per row: the per-dimension terms summed (halving is exact in float32). */
export function klDivergence(zMean: tf.Tensor2D, zLogVar: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(klPerDimension(zMean, zLogVar), -1);
}

/**
 * This thread's part of a batch split across threads: the whole batch's row count and the BatchNorm
 * reducer over all parts. Each part's loss is its rows' sum / `rows`, so the parts' gradients sum to
 * the whole batch's gradient.
 */
export interface BatchShare {
  readonly rows: number;
  readonly reducer: BatchReducer;
}

/**
 * Gradients of the loss w.r.t. `trainableVariables(model)` (same order), and the metrics of `batch`
 * (means over its rows). `share` makes `batch` one part of a larger batch (default: the whole batch).
 * Side effect: BatchNorm moving statistics move, as in Keras training. The caller disposes `grads`.
 */
export function computeGradients(model: Cvae, batch: TrainBatch, gamma: number, share: BatchShare = { rows: batch.size, reducer: WHOLE_BATCH }): { grads: tf.Tensor[]; metrics: StepMetrics } {
  const variables = trainableVariables(model).map((v) => v.variable);
  const latentDim = batch.eps.length / batch.size;
  let terms: tf.Tensor1D | undefined;
  const { grads } = tf.tidy(() => {
    const images = tf.tensor4d(batch.images, [batch.size, IMAGE_SIZE, IMAGE_SIZE, 1]);
    const labels = tf.tensor2d(batch.onehot, [batch.size, NUM_CLASSES]);
    const eps = tf.tensor2d(batch.eps, [batch.size, latentDim]);
    const result = tf.variableGrads(() => {
      const { loss, recon, kl } = cvaeLoss(model, images, labels, eps, gamma, share.reducer);
      terms = tf.keep(tf.stack([loss, recon, kl]) as tf.Tensor1D);
      return share.rows === batch.size ? loss : (tf.mul(loss, batch.size / share.rows) as tf.Scalar);
    }, variables);
    return { grads: variables.map((v) => result.grads[v.name]!) };
  });
  const [loss, recon, kl] = terms!.dataSync();
  terms!.dispose();
  return { grads, metrics: { loss: loss!, recon: recon!, kl: kl! } };
}

/** The default step: gradients on this thread, then Adam. */
export function createLocalStep(context: StepContext): TrainStep {
  return {
    async run(batch: TrainBatch): Promise<StepMetrics> {
      const { grads, metrics } = computeGradients(context.model, batch, context.gamma);
      context.optimizer.apply(grads);
      tf.dispose(grads);
      return metrics;
    },
  };
}
