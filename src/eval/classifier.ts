/**
 * The project's own MNIST classifier: the judge `cvae-repl eval` uses to ask "is this generated
 * image the digit we asked for?", and whose penultimate layer is the feature space of the Frechet
 * distance. A small LeNet-style convnet, so it trains in minutes on two cores with the wasm backend:
 *   [b,28,28,1] -> conv5x5(16, relu) [b,24,24,16] -> maxpool [b,12,12,16]
 *   -> conv5x5(32, relu) [b,8,8,32] -> maxpool [b,4,4,32] -> flatten [b,512]
 *   -> dense(128, relu) [b,128] = features -> dropout(0.4) -> dense(10) = logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PIXELS } from '../engine/data.js';
import { deriveSeed } from '../engine/rng.js';
import { recoverDir } from '../engine/fs-atomic.js';
import { readLayersModel } from '../engine/layers-io.js';
import { writeCheckpointDir } from './model-files.js';
import { ClassifierError } from './errors.js';

export const CLASSIFIER_FORMAT_VERSION = 1;
export const FEATURE_LAYER = 'features';
export const FEATURE_DIM = 128;
const META_FILE = 'meta.json';

/** What is saved beside the classifier's weights. */
export interface ClassifierMeta {
  readonly formatVersion: number;
  readonly architecture: 'lenet-16-32-128';
  readonly featureLayer: string;
  readonly featureDim: number;
  /** Share of the 10,000 MNIST test images classified correctly, in [0, 1]. */
  readonly testAccuracy: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly trainSamples: number;
  /** The engine's MNIST fingerprints of the training and test data. */
  readonly dataFingerprint: { readonly train: string; readonly test: string };
  readonly backend: string;
  readonly seconds: number;
  readonly createdAt: string;
}

/** Builds an untrained classifier; `seed` fixes the initial weights. */
export function buildClassifier(seed = 0): tfl.LayersModel {
  const init = (layer: number) => tfl.initializers.glorotUniform({ seed: deriveSeed(seed, 'classifier-init', layer) });
  const model = tfl.sequential({ name: 'mnist_classifier' });
  model.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init(0) }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.conv2d({ filters: 32, kernelSize: 5, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: FEATURE_DIM, activation: 'relu', kernelInitializer: init(2), name: FEATURE_LAYER }));
  // No seed on dropout: a seeded tfjs dropout draws the same mask at every step.
  model.add(tfl.layers.dropout({ rate: 0.4 }));
  model.add(tfl.layers.dense({ units: 10, kernelInitializer: init(3), name: 'logits' }));
  return model;
}

/** Labels and features of a batch of images, read back to the CPU. */
export interface ClassifierOutput {
  readonly count: number;
  /** argmax of the logits, one per image. */
  readonly labels: Uint8Array;
  /** Row-major [count * featureDim]. */
  readonly features: Float32Array;
}

/** A trained classifier in inference mode. */
export class Classifier {
  /** Same weights, two outputs: one forward pass yields both the features and the logits. */
  private readonly both: tfl.LayersModel;
  readonly featureDim: number;

  constructor(
    readonly model: tfl.LayersModel,
    readonly meta?: ClassifierMeta,
  ) {
    const features = model.getLayer(FEATURE_LAYER);
    this.both = tfl.model({ inputs: model.inputs, outputs: [features.output as tfl.SymbolicTensor, model.outputs[0]!] });
    this.featureDim = (features.outputShape as number[])[1]!;
  }

  /** Classifies `count` images given as row-major pixels in [0, 1] ([count * 784]), `batchSize` at a time. */
  async classify(images: Float32Array, count: number, batchSize = 500): Promise<ClassifierOutput> {
    if (images.length !== count * PIXELS) throw new ClassifierError(`expected ${count} images of 784 pixels, got ${images.length} values`);
    const labels = new Uint8Array(count);
    const features = new Float32Array(count * this.featureDim);
    for (let start = 0; start < count; start += batchSize) {
      const end = Math.min(count, start + batchSize);
      const [f, l] = tf.tidy(() => {
        const x = tf.tensor4d(images.subarray(start * PIXELS, end * PIXELS), [end - start, 28, 28, 1]);
        const [feat, logits] = this.both.predict(x) as tf.Tensor[];
        return [feat!, tf.argMax(logits!, 1)];
      });
      const [fv, lv] = await Promise.all([f!.data(), l!.data()]);
      tf.dispose([f!, l!]);
      features.set(fv as Float32Array, start * this.featureDim);
      for (let i = 0; i < end - start; i++) labels[start + i] = lv[i]!;
    }
    return { count, labels, features };
  }

  dispose(): void {
    // `both` shares every layer (and so every weight) with `model`; disposing `model` frees them.
    this.model.dispose();
  }
}

/** Saves the classifier and its metadata into `dir`, atomically: a crash leaves the previous contents intact. */
export async function saveClassifier(dir: string, model: tfl.LayersModel, meta: ClassifierMeta): Promise<void> {
  await writeCheckpointDir(dir, async (write) => {
    await write.layersModel(model);
    await write.json(META_FILE, meta);
  });
}

function isClassifierMeta(value: unknown): value is ClassifierMeta {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.formatVersion === 'number' && typeof m.testAccuracy === 'number' && typeof m.featureLayer === 'string' && typeof m.epochs === 'number';
}

/** Loads a classifier saved by `saveClassifier`; throws ClassifierError with a one-line reason when it cannot. */
export async function loadClassifier(dir: string): Promise<Classifier> {
  const { readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  // A save that crashed mid-swap left the previous classifier as <dir>.previous: put it back (if that
  // fails, the missing meta.json below says so).
  await recoverDir(dir).catch(() => false);
  let meta: unknown;
  try {
    meta = JSON.parse(await readFile(path.join(dir, META_FILE), 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ClassifierError(
      code === 'ENOENT'
        ? `no classifier in ${dir} (${META_FILE} is missing); train one with 'cvae-repl train-classifier --out ${dir}'`
        : `${path.join(dir, META_FILE)} is unreadable (${(error as Error).message}); retrain with 'cvae-repl train-classifier'`,
    );
  }
  if (!isClassifierMeta(meta)) throw new ClassifierError(`${path.join(dir, META_FILE)} is not classifier metadata; retrain with 'cvae-repl train-classifier'`);
  if (meta.formatVersion !== CLASSIFIER_FORMAT_VERSION) {
    throw new ClassifierError(`${dir} holds classifier format ${meta.formatVersion}, this version reads ${CLASSIFIER_FORMAT_VERSION}; retrain with 'cvae-repl train-classifier'`);
  }
  const model = await readLayersModel(dir).catch((error: unknown) => {
    throw new ClassifierError(`cannot load the classifier in ${dir}: ${(error as Error).message}`);
  });
  try {
    const layer = model.getLayer(meta.featureLayer);
    if ((layer.outputShape as number[])[1] !== meta.featureDim) throw new Error(`feature layer has ${String(layer.outputShape)} outputs, meta says ${meta.featureDim}`);
  } catch (error) {
    model.dispose();
    throw new ClassifierError(`${dir}: the classifier does not match its metadata (${(error as Error).message})`);
  }
  return new Classifier(model, meta);
}
