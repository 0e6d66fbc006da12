/**
 * Trains the evaluation classifier (./classifier.ts) on MNIST: Adam on softmax cross-entropy,
 * reshuffled every epoch by the engine's seeded RNG, learning rate decayed geometrically from
 * `learningRate` to `finalLearningRate` over the epochs. Reports through callbacks, never stdout.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { batchRanges, gatherBatch, type MnistSet } from '../engine/data.js';
import { runModel } from '../engine/model.js';
import { createRng, permutation } from '../engine/rng.js';
import { Classifier } from './classifier.js';
import { ClassifierError } from './errors.js';

export interface ClassifierTrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** The learning rate of the last epoch; epochs in between decay geometrically. */
  finalLearningRate: number;
  seed: number;
  signal?: AbortSignal;
  onBatchEnd?(report: { epoch: number; batch: number; batches: number; loss: number; samplesPerSec: number }): void;
  onEpochEnd?(report: { epoch: number; epochs: number; loss: number; testAccuracy: number; seconds: number; learningRate: number }): void | Promise<void>;
}

export const DEFAULT_CLASSIFIER_TRAINING: Omit<ClassifierTrainOptions, 'signal' | 'onBatchEnd' | 'onEpochEnd'> = {
  epochs: 10,
  batchSize: 128,
  learningRate: 2e-3,
  finalLearningRate: 2e-4,
  seed: 1,
};

export interface ClassifierTrainOutcome {
  readonly epochs: number;
  readonly testAccuracy: number;
  readonly seconds: number;
  readonly aborted: boolean;
}

/** Exposes Adam's learning rate for the per-epoch schedule (tfjs keeps it protected but reads it at every step). */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(value: number): void {
    this.learningRate = value;
  }
}

/** Share of `set` that `classifier` labels correctly. */
export async function classifierAccuracy(classifier: Classifier, set: MnistSet): Promise<number> {
  const { labels } = await classifier.classify(set.images, set.count);
  let correct = 0;
  for (let i = 0; i < set.count; i++) if (labels[i] === set.labels[i]) correct++;
  return correct / set.count;
}

/** Trains `model` in place on `train`, measuring accuracy on `test` after every epoch. */
export async function trainClassifier(model: tfl.LayersModel, train: MnistSet, test: MnistSet, options: ClassifierTrainOptions): Promise<ClassifierTrainOutcome> {
  const { epochs, batchSize } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new ClassifierError(`epochs must be a whole number >= 1, got ${epochs}`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new ClassifierError(`batch size must be a whole number >= 1, got ${batchSize}`);
  const optimizer = new ScheduledAdam(options.learningRate, 0.9, 0.999, 1e-7);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const classifier = new Classifier(model);
  const started = performance.now();
  let testAccuracy = Number.NaN;
  let done = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const progress = epochs === 1 ? 0 : (epoch - 1) / (epochs - 1);
      const learningRate = options.learningRate * (options.finalLearningRate / options.learningRate) ** progress;
      optimizer.setLearningRate(learningRate);
      const order = permutation(train.count, createRng(options.seed, 'classifier-shuffle', epoch));
      const ranges = batchRanges(train.count, batchSize);
      const epochStart = performance.now();
      let lossSum = 0;
      for (const [b, [start, end]] of ranges.entries()) {
        if (options.signal?.aborted) return { epochs: done, testAccuracy, seconds: (performance.now() - started) / 1000, aborted: true };
        const batch = gatherBatch(train, order, start, end);
        const batchStart = performance.now();
        const loss = tf.tidy(() => {
          const x = tf.tensor4d(batch.images, [batch.size, 28, 28, 1]);
          const y = tf.tensor2d(batch.onehot, [batch.size, 10]);
          // runModel, not model.apply: tfjs-layers drops `training` inside a model, which would leave dropout off.
          return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, runModel(model, [x], true)[0]!) as tf.Scalar, true, variables)!;
        });
        const value = (await loss.data())[0]!;
        loss.dispose();
        lossSum += value * batch.size;
        options.onBatchEnd?.({ epoch, batch: b + 1, batches: ranges.length, loss: value, samplesPerSec: batch.size / ((performance.now() - batchStart) / 1000) });
        // Let the event loop run so an abort (Ctrl+C) is heard between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      testAccuracy = await classifierAccuracy(classifier, test);
      done = epoch;
      await options.onEpochEnd?.({ epoch, epochs, loss: lossSum / train.count, testAccuracy, seconds: (performance.now() - epochStart) / 1000, learningRate });
    }
  } finally {
    optimizer.dispose();
  }
  return { epochs: done, testAccuracy, seconds: (performance.now() - started) / 1000, aborted: false };
}
