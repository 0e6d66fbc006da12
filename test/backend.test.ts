import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError, initBackend, isBackendChoice } from '../src/engine/backend.js';
import type { BackendChoice } from '../src/engine/types.js';
import { buildCvae, disposeCvae, runModel } from '../src/engine/model.js';

const require = createRequire(import.meta.url);
function nativeInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe('initBackend', () => {
  it('auto picks the fastest backend that loads, and is idempotent', async () => {
    const first = await initBackend('auto');
    assert.equal(first, nativeInstalled() ? 'tensorflow' : 'wasm');
    assert.equal(await initBackend(), first);
    assert.equal(tf.getBackend(), first);
  });

  it('switches between wasm and cpu on request', async () => {
    assert.equal(await initBackend('cpu'), 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal(await initBackend('wasm'), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('forcing tensorflow without @tensorflow/tfjs-node is a one-line BackendError saying how to get it', { skip: nativeInstalled() }, async () => {
    await assert.rejects(initBackend('tensorflow'), (error: unknown) => {
      assert.ok(error instanceof BackendError);
      assert.equal(error.backend, 'tensorflow');
      assert.match(error.message, /tensorflow/);
      assert.match(error.message, /@tensorflow\/tfjs-node is not installed/);
      assert.match(error.message, /npm install @tensorflow\/tfjs-node/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    // The failed attempt leaves the previous backend active.
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('rejects an unknown choice with a BackendError', async () => {
    assert.equal(isBackendChoice('webgl'), false);
    assert.equal(isBackendChoice('wasm'), true);
    await assert.rejects(initBackend('webgl' as BackendChoice), BackendError);
  });

  it('does not leave the wasm glue rethrowing handlers on the process', async () => {
    await initBackend('wasm');
    for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
      for (const listener of process.listeners(event as 'uncaughtException')) {
        assert.doesNotMatch(String(listener), /throw (ex|reason)/);
      }
    }
  });

  it("trains one step of the notebook's model on wasm without leaking tensors", async () => {
    await initBackend('wasm');
    const m = buildCvae();
    const vars = [...m.encoder.trainableWeights, ...m.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const c = tf.cast(tf.oneHot(tf.tensor1d([0, 3, 5, 9], 'int32'), 10), 'float32') as tf.Tensor2D;
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const [mu, lv] = runModel(m.encoder, [x, c], true);
          const [y] = runModel(m.decoder, [tf.add(mu!, tf.exp(lv!)), c], true);
          return tf.mean(tf.squaredDifference(y!, x)) as tf.Scalar;
        }, vars);
        return [value, ...Object.values(grads)];
      });
    tf.dispose(step());
    const before = tf.memory().numTensors;
    const outs = step();
    assert.equal(outs.length, 1 + vars.length);
    for (const g of outs) assert.ok((await g.data()).every(Number.isFinite));
    tf.dispose(outs);
    assert.equal(tf.memory().numTensors, before);
    disposeCvae(m);
    tf.dispose([x, c]);
  });
});
