import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadMnist, type MnistSet } from '../src/engine/data.js';
import { buildClassifier, Classifier, CLASSIFIER_FORMAT_VERSION, FEATURE_DIM, loadClassifier, saveClassifier, type ClassifierMeta } from '../src/eval/classifier.js';
import { ClassifierError } from '../src/eval/errors.js';
import { writeCheckpointDir } from '../src/eval/model-files.js';
import { classifierAccuracy, trainClassifier } from '../src/eval/train-classifier.js';

let train: MnistSet;
let test10: MnistSet;

before(async () => {
  await initBackend('wasm');
  [train, test10] = await Promise.all([loadMnist('train', { limit: 1536 }), loadMnist('test', { limit: 500 })]);
});

const meta = (testAccuracy: number): ClassifierMeta => ({
  formatVersion: CLASSIFIER_FORMAT_VERSION,
  architecture: 'lenet-16-32-128',
  featureLayer: 'features',
  featureDim: FEATURE_DIM,
  testAccuracy,
  epochs: 1,
  batchSize: 128,
  seed: 3,
  trainSamples: train.count,
  dataFingerprint: { train: train.fingerprint, test: test10.fingerprint },
  backend: 'wasm',
  seconds: 1,
  createdAt: new Date(0).toISOString(),
});

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'cvae-classifier-'));
}

test('a short training run learns digits, leaks no tensors, and survives save -> load with identical outputs', async () => {
  const model = buildClassifier(3);
  const before = tf.memory().numTensors;
  const outcome = await trainClassifier(model, train, test10, { epochs: 2, batchSize: 64, learningRate: 2e-3, finalLearningRate: 1e-3, seed: 3 });
  assert.equal(tf.memory().numTensors, before, 'training must dispose the optimizer and every step');
  assert.equal(outcome.epochs, 2);
  // 1,536 images, 2 epochs: far above chance (10%); the full run reaches >99%.
  assert.ok(outcome.testAccuracy > 0.6, `accuracy ${outcome.testAccuracy}`);

  const dir = await tempDir();
  try {
    const target = path.join(dir, 'classifier');
    await saveClassifier(target, model, meta(outcome.testAccuracy));
    assert.deepEqual((await readdir(target)).sort(), ['meta.json', 'model.json', 'weights.bin']);
    const modelJson = JSON.parse(await readFile(path.join(target, 'model.json'), 'utf8')) as { format: string; weightsManifest: { paths: string[] }[] };
    assert.equal(modelJson.format, 'layers-model');
    assert.deepEqual(modelJson.weightsManifest[0]!.paths, ['weights.bin']);

    const original = new Classifier(model);
    const loaded = await loadClassifier(target);
    assert.equal(loaded.meta?.testAccuracy, outcome.testAccuracy);
    const a = await original.classify(test10.images, test10.count, 128);
    const b = await loaded.classify(test10.images, test10.count, 128);
    assert.deepEqual(b.labels, a.labels);
    assert.equal(b.features.length, test10.count * FEATURE_DIM);
    for (let i = 0; i < a.features.length; i++) assert.ok(Math.abs(a.features[i]! - b.features[i]!) < 1e-5, `feature ${i}`);
    assert.equal(await classifierAccuracy(loaded, test10), outcome.testAccuracy);

    const held = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await loaded.classify(test10.images.subarray(0, 50 * 784), 50);
    assert.equal(tf.memory().numTensors, held, 'classify must not leak');
    loaded.dispose();
  } finally {
    model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('loading a missing, mismatched or truncated classifier fails with a one-line ClassifierError', async () => {
  const dir = await tempDir();
  try {
    await assert.rejects(loadClassifier(path.join(dir, 'nope')), (e: unknown) => e instanceof ClassifierError && /no classifier in .*train-classifier/.test(e.message));
    const target = path.join(dir, 'c');
    const model = buildClassifier(1);
    await saveClassifier(target, model, meta(0.5));
    model.dispose();

    await writeFile(path.join(target, 'meta.json'), JSON.stringify({ ...meta(0.5), formatVersion: 99 }));
    await assert.rejects(loadClassifier(target), /format 99/);
    await writeFile(path.join(target, 'meta.json'), '{"hello":');
    await assert.rejects(loadClassifier(target), (e: unknown) => e instanceof ClassifierError && /meta\.json is unreadable/.test(e.message));
    await writeFile(path.join(target, 'meta.json'), JSON.stringify(meta(0.5)));
    await truncate(path.join(target, 'weights.bin'), 1000);
    await assert.rejects(loadClassifier(target), (e: unknown) => e instanceof ClassifierError && /weights\.bin: holds 1000 bytes/.test(e.message) && !e.message.includes('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a save that fails midway leaves the previous classifier intact and no temp files behind', async () => {
  const dir = await tempDir();
  try {
    const target = path.join(dir, 'c');
    const model = buildClassifier(2);
    await saveClassifier(target, model, meta(0.25));
    const before = await readFile(path.join(target, 'weights.bin'));
    await assert.rejects(
      writeCheckpointDir(target, async (write) => {
        await write.layersModel(model);
        throw new Error('simulated crash while writing');
      }),
      /simulated crash/,
    );
    model.dispose();
    assert.deepEqual(await readdir(dir), ['c']);
    assert.deepEqual(await readFile(path.join(target, 'weights.bin')), before);
    const loaded = await loadClassifier(target);
    assert.equal(loaded.meta?.testAccuracy, 0.25);
    loaded.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a classifier left as <dir>.previous by a save that crashed mid-swap is put back on load', async () => {
  const dir = await tempDir();
  try {
    const target = path.join(dir, 'c');
    const model = buildClassifier(3);
    await saveClassifier(target, model, meta(0.5));
    model.dispose();
    await rename(target, `${target}.previous`);
    const loaded = await loadClassifier(target);
    assert.equal(loaded.meta?.testAccuracy, 0.5);
    loaded.dispose();
    assert.deepEqual(await readdir(dir), ['c']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
