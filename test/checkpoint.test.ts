import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../src/engine/backend.js';
import { backupDirOf, loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../src/engine/checkpoint.js';
import { CheckpointError } from '../src/engine/errors.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, disposeCvae, seedWeights, type Cvae } from '../src/engine/model.js';
import { createRng, normals } from '../src/engine/rng.js';
import { createAdam } from '../src/engine/adam.js';
import { createLocalStep } from '../src/engine/step.js';

const root = mkdtempSync(path.join(tmpdir(), 'cvae-ck-'));
after(() => rmSync(root, { recursive: true, force: true }));

function meta(epochsTrained: number): CheckpointMeta {
  return {
    formatVersion: 1,
    generatedBy: 'test',
    model: DEFAULT_MODEL_CONFIG,
    training: { batchSize: 8, learningRate: 1e-3, gamma: 1e-4, seed: 1, limit: 8, adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } },
    epochsTrained,
    trainSamples: 8,
    backend: 'wasm',
    wallSeconds: 1,
    history: [],
    data: { fingerprint: 'f', trainCount: 8, source: 'test' },
    prior: null,
    optimizer: null,
    savedAt: '',
  };
}

const zFixed = () => tf.tensor2d(normals(4 * 16, createRng(9)), [4, 16]);
const labelsFixed = () => tf.cast(tf.oneHot(tf.tensor1d([0, 3, 7, 9], 'int32'), 10), 'float32');
function decode(decoder: tfl.LayersModel): Float32Array {
  return tf.tidy(() => (decoder.predict([zFixed(), labelsFixed()]) as tf.Tensor).dataSync() as Float32Array);
}

/** A model after two training steps: weights, BatchNorm moving statistics and Adam state all non-trivial. */
async function trainedModel(): Promise<{ model: Cvae; adam: ReturnType<typeof createAdam> }> {
  const model = buildCvae();
  seedWeights(model, createRng(3));
  const adam = createAdam(model, 1e-3);
  const step = createLocalStep({ model, optimizer: adam, gamma: 1e-4, config: DEFAULT_MODEL_CONFIG });
  const rng = createRng(4);
  for (let i = 0; i < 2; i++) {
    const labels = new Uint8Array([1, 2, 3, 4]);
    const onehot = new Float32Array(40);
    labels.forEach((l, j) => (onehot[j * 10 + l] = 1));
    await step.run({ size: 4, images: Float32Array.from({ length: 4 * 784 }, () => rng.uniform()), labels, onehot, eps: normals(64, rng) });
  }
  return { model, adam };
}

before(async () => {
  await initBackend('wasm');
});

describe('checkpoint round trip', () => {
  test('reloaded encoder, decoder and Adam state are identical', async () => {
    const dir = path.join(root, 'roundtrip');
    const { model, adam } = await trainedModel();
    const snapshot = await adam.snapshot();
    await saveCheckpoint(dir, model, meta(2), snapshot);
    assert.deepEqual(readdirSync(dir).sort(), ['decoder', 'encoder', 'meta.json', 'optimizer.bin']);
    assert.deepEqual(readdirSync(path.join(dir, 'encoder')).sort(), ['model.json', 'weights.bin']);

    const loaded = await loadCheckpoint(dir, { withOptimizer: true });
    assert.deepEqual(decode(loaded.decoder), decode(model.decoder));
    const image = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 5);
    const [a] = model.encoder.predict([image, labelsFixed()]) as tf.Tensor[];
    const [b] = loaded.encoder.predict([image, labelsFixed()]) as tf.Tensor[];
    assert.deepEqual(a!.dataSync(), b!.dataSync());
    // BatchNorm moving statistics travel with the weights.
    assert.deepEqual(loaded.decoder.getLayer('dec_bn').getWeights()[2]!.dataSync(), model.decoder.getLayer('dec_bn').getWeights()[2]!.dataSync());
    assert.equal(loaded.meta.epochsTrained, 2);
    assert.equal(loaded.optimizer?.step, 2);
    assert.deepEqual(loaded.optimizer?.m.map((x) => Array.from(x.slice(0, 5))), snapshot.m.map((x) => Array.from(x.slice(0, 5))));
    assert.deepEqual(loaded.optimizer?.v[10], snapshot.v[10]);
    tf.dispose([image, a!, b!]);
    disposeCvae(loaded);
    disposeCvae(model);
  });

  test('the files are standard TensorFlow.js: tf.loadLayersModel reads model.json over its own HTTP loader', async () => {
    const dir = path.join(root, 'standard');
    const model = buildCvae();
    seedWeights(model, createRng(6));
    await saveCheckpoint(dir, model, meta(1));
    const fetchFunc = async (url: string | URL | Request) =>
      new Response(readFileSync(path.join(dir, 'decoder', new URL(String(url instanceof Request ? url.url : url)).pathname.split('/').pop()!)));
    const decoder = await tfl.loadLayersModel(tf.io.http('http://checkpoint/decoder/model.json', { fetchFunc }));
    assert.deepEqual(decode(decoder), decode(model.decoder));
    decoder.dispose();
    disposeCvae(model);
  });
});

describe('atomic saves', () => {
  async function twoVersions(name: string): Promise<{ dir: string; model: Cvae; oldOutput: Float32Array }> {
    const dir = path.join(root, name);
    const model = buildCvae();
    seedWeights(model, createRng(7));
    await saveCheckpoint(dir, model, meta(1));
    const oldOutput = decode(model.decoder);
    seedWeights(model, createRng(8)); // "the next epoch"
    return { dir, model, oldOutput };
  }

  test('a crash while writing leaves the previous checkpoint untouched and no partial directory behind', async () => {
    const { dir, model, oldOutput } = await twoVersions('crash-writing');
    await assert.rejects(saveCheckpoint(dir, model, meta(2), undefined, { faultHook: (stage) => { if (stage === 'files-written') throw new Error('disk full'); } }), /disk full/);
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.meta.epochsTrained, 1);
    assert.deepEqual(decode(loaded.decoder), oldOutput);
    assert.deepEqual(readdirSync(root).filter((e) => e.startsWith('crash-writing')), ['crash-writing']);
    disposeCvae(loaded);
    disposeCvae(model);
  });

  test('a crash between the two renames is recovered from the backup on load', async () => {
    const { dir, model, oldOutput } = await twoVersions('crash-swap');
    await assert.rejects(saveCheckpoint(dir, model, meta(2), undefined, { faultHook: (stage) => { if (stage === 'old-moved-aside') throw new Error('power cut'); } }));
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync(backupDirOf(dir)), true);
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.meta.epochsTrained, 1);
    assert.deepEqual(decode(loaded.decoder), oldOutput);
    assert.equal(existsSync(backupDirOf(dir)), false);
    // The next save works normally from the recovered state.
    await saveCheckpoint(dir, model, meta(2));
    assert.equal((await loadCheckpoint(dir).then((c) => (disposeCvae(c), c.meta))).epochsTrained, 2);
    disposeCvae(loaded);
    disposeCvae(model);
  });

  test('a process killed (SIGKILL) in the middle of a save leaves a loadable checkpoint', async () => {
    const { dir, model, oldOutput } = await twoVersions('killed');
    disposeCvae(model);
    const child = path.join(root, 'kill-child.mts');
    writeFileSync(child, `
      import { initBackend } from ${JSON.stringify(path.resolve('src/engine/backend.ts'))};
      import { buildCvae, seedWeights } from ${JSON.stringify(path.resolve('src/engine/model.ts'))};
      import { saveCheckpoint } from ${JSON.stringify(path.resolve('src/engine/checkpoint.ts'))};
      import { createRng } from ${JSON.stringify(path.resolve('src/engine/rng.ts'))};
      await initBackend('cpu');
      const model = buildCvae();
      seedWeights(model, createRng(8));
      const meta = JSON.parse(process.argv[3]);
      await saveCheckpoint(process.argv[2], model, meta, undefined, { faultHook: (stage) => { if (stage === process.argv[4]) process.kill(process.pid, 'SIGKILL'); } });
    `);
    for (const stage of ['files-written', 'old-moved-aside']) {
      const result = spawnSync(process.execPath, ['--import', 'tsx', child, dir, JSON.stringify(meta(2)), stage], { cwd: process.cwd(), encoding: 'utf8' });
      assert.equal(result.signal, 'SIGKILL', result.stderr);
      const loaded = await loadCheckpoint(dir);
      assert.equal(loaded.meta.epochsTrained, 1);
      assert.deepEqual(decode(loaded.decoder), oldOutput);
      disposeCvae(loaded);
    }
  });
});

describe('validation on load', () => {
  let dir = '';
  before(async () => {
    const model = buildCvae();
    seedWeights(model, createRng(11));
    dir = path.join(root, 'valid');
    await saveCheckpoint(dir, model, meta(1));
    disposeCvae(model);
  });

  function damaged(name: string, damage: (d: string) => void): string {
    const copy = path.join(root, name);
    spawnSync('cp', ['-r', dir, copy]);
    damage(copy);
    return copy;
  }

  async function rejectsWith(target: string, pattern: RegExp): Promise<void> {
    await assert.rejects(loadCheckpoint(target), (error: unknown) => error instanceof CheckpointError && pattern.test(error.message) && !error.message.includes('\n'));
  }

  test('a missing directory, missing or truncated weights, bad JSON, unknown version and mismatched config are one-line errors naming the file', async () => {
    await rejectsWith(path.join(root, 'nowhere'), /nowhere: no checkpoint here; train one with/);
    await rejectsWith(damaged('no-weights', (d) => rmSync(path.join(d, 'decoder', 'weights.bin'))), /decoder\/weights.bin: is missing/);
    await rejectsWith(damaged('short-weights', (d) => truncateSync(path.join(d, 'encoder', 'weights.bin'), 1000)), /encoder\/weights.bin: holds 1000 bytes, model.json needs 563904/);
    await rejectsWith(damaged('bad-json', (d) => writeFileSync(path.join(d, 'meta.json'), '{"formatVersion": 1,')), /meta.json: is not valid JSON/);
    const edit = (d: string, change: (m: Record<string, unknown>) => void) => {
      const file = path.join(d, 'meta.json');
      const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      change(m);
      writeFileSync(file, JSON.stringify(m));
    };
    await rejectsWith(damaged('future', (d) => edit(d, (m) => (m.formatVersion = 99))), /meta.json: format version 99 is not supported/);
    await rejectsWith(damaged('latent8', (d) => edit(d, (m) => (m.model = { ...DEFAULT_MODEL_CONFIG, latentDim: 8 }))), /encoder\/model.json: encoder outputs are .* config needs \[\[null,8\]/);
    await rejectsWith(damaged('bad-prior', (d) => edit(d, (m) => (m.prior = { kind: 'gaussian-mixture', latentDim: 16, digits: [] }))), /meta.json: latent density is malformed/);
  });
});
