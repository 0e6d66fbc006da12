/**
 * `cvae-repl train-classifier`: trains the MNIST classifier that `cvae-repl eval` uses as its judge
 * and saves it (atomically) with its test accuracy. The shipped one lives in checkpoints/classifier.
 */
import { initBackend } from '../engine/backend.js';
import { loadMnist } from '../engine/data.js';
import type { BackendChoice } from '../engine/types.js';
import { buildClassifier, CLASSIFIER_FORMAT_VERSION, FEATURE_DIM, FEATURE_LAYER, saveClassifier } from '../eval/classifier.js';
import { DEFAULT_CLASSIFIER_TRAINING, trainClassifier } from '../eval/train-classifier.js';
import { reportCommandError } from './errors.js';
import type { CommandIo } from './io.js';

export interface TrainClassifierOptions {
  /** Where the classifier is written. Default checkpoints/classifier. */
  out: string;
  epochs: number;
  batchSize: number;
  seed: number;
  backend: BackendChoice;
  /** Train on the first `limit` training images only (quick checks). */
  limit?: number;
  dataDir?: string;
  signal?: AbortSignal;
}

export const DEFAULT_TRAIN_CLASSIFIER_OPTIONS: Omit<TrainClassifierOptions, 'signal'> = {
  out: 'checkpoints/classifier',
  epochs: DEFAULT_CLASSIFIER_TRAINING.epochs,
  batchSize: DEFAULT_CLASSIFIER_TRAINING.batchSize,
  seed: DEFAULT_CLASSIFIER_TRAINING.seed,
  backend: 'auto',
};

/** Trains and saves the classifier; returns the exit code (0 ok, 1 failed, 130 interrupted by Ctrl+C, 143 by SIGTERM). */
export async function runTrainClassifierCommand(options: TrainClassifierOptions, io: CommandIo): Promise<number> {
  try {
    const backend = await initBackend(options.backend);
    io.stdout.write(`backend ${backend}; loading MNIST\n`);
    const [train, test] = await Promise.all([
      loadMnist('train', { dataDir: options.dataDir, limit: options.limit }),
      loadMnist('test', { dataDir: options.dataDir }),
    ]);
    io.stdout.write(`training the classifier on ${train.count} images for ${options.epochs} epochs (batch ${options.batchSize}, seed ${options.seed})\n`);
    const model = buildClassifier(options.seed);
    try {
      let lastLine = 0;
      const outcome = await trainClassifier(model, train, test, {
        ...DEFAULT_CLASSIFIER_TRAINING,
        epochs: options.epochs,
        batchSize: options.batchSize,
        seed: options.seed,
        signal: options.signal,
        onBatchEnd: (r) => {
          const now = Date.now();
          if (now - lastLine < 15_000 && r.batch !== r.batches) return;
          lastLine = now;
          io.stderr.write(`  epoch ${r.epoch} batch ${r.batch}/${r.batches} loss ${r.loss.toFixed(4)} ${r.samplesPerSec.toFixed(0)} samples/s\n`);
        },
        onEpochEnd: (r) => {
          io.stdout.write(
            `epoch ${r.epoch}/${r.epochs}: loss ${r.loss.toFixed(4)}, test accuracy ${(100 * r.testAccuracy).toFixed(2)}%, lr ${r.learningRate.toExponential(1)}, ${r.seconds.toFixed(0)} s\n`,
          );
        },
      });
      if (outcome.aborted) {
        io.stderr.write('interrupted: the classifier was not saved\n');
        return options.signal?.reason === 'SIGTERM' ? 143 : 130;
      }
      await saveClassifier(options.out, model, {
        formatVersion: CLASSIFIER_FORMAT_VERSION,
        architecture: 'lenet-16-32-128',
        featureLayer: FEATURE_LAYER,
        featureDim: FEATURE_DIM,
        testAccuracy: outcome.testAccuracy,
        epochs: outcome.epochs,
        batchSize: options.batchSize,
        seed: options.seed,
        trainSamples: train.count,
        dataFingerprint: { train: train.fingerprint, test: test.fingerprint },
        backend,
        seconds: Math.round(outcome.seconds),
        createdAt: new Date().toISOString(),
      });
      io.stdout.write(`saved ${options.out}: test accuracy ${(100 * outcome.testAccuracy).toFixed(2)}% after ${outcome.epochs} epochs, ${outcome.seconds.toFixed(0)} s\n`);
      if (outcome.testAccuracy < 0.99) io.stderr.write('warning: below 99% test accuracy; eval would judge generated digits with a weak classifier\n');
      return 0;
    } finally {
      model.dispose();
    }
  } catch (error) {
    // File-system failures here happen while saving (EACCES, ENOSPC ...).
    return reportCommandError(error, io.stderr, { fileErrorPrefix: 'cannot write the classifier: ' });
  }
}
