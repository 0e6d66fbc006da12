/**
 * A data-parallel training worker: its own tfjs backend and model replica. Per step it loads the
 * shared weights, computes its rows' share of the batch gradient with the engine's own
 * `computeGradients` (BatchNorm synchronised with the other threads), and writes it to its buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import { buildCvae } from '../model.js';
import { computeGradients } from '../step.js';
import { SharedReducer } from './collective.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { readVariables, sizeOf, statVariables, trainable, writeTensors } from './replica.js';
import * as tf from '@tensorflow/tfjs-core';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

async function main(): Promise<void> {
  await initBackend(init.backend);
  const model = buildCvae(init.config);
  const vars = trainable(model);
  const stats = statVariables(model);
  const weights = new Float32Array(init.weights);
  const grads = new Float32Array(init.grads);
  const images = new Float32Array(init.images);
  const onehot = new Float32Array(init.onehot);
  const eps = new Float32Array(init.eps);
  const labels = new Uint8Array(init.labels);
  const side = init.config.imageSize;
  const latent = init.config.latentDim;
  const classes = init.config.numClasses;
  const reducer = new SharedReducer(init.sync, init.rank, init.ranks, init.syncWidth);

  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      port.close();
      return;
    }
    try {
      readVariables(stats, weights, readVariables(vars, weights));
      const n = message.size;
      const batch = {
        size: n,
        images: images.slice(0, n * side * side),
        onehot: onehot.slice(0, n * classes),
        labels: labels.slice(0, n),
        eps: eps.slice(0, n * latent),
      };
      const { grads: g, metrics } = computeGradients(model, batch, message.gamma, { rows: message.rows, reducer: reducer.forStep(message.parts) });
      writeTensors(g, grads);
      tf.dispose(g);
      post({ type: 'done', ...metrics });
    } catch (error) {
      // Wake the threads waiting for this one at a BatchNorm sync.
      reducer.abort();
      post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  });
  post({ type: 'ready', trainable: sizeOf(vars), stats: sizeOf(stats) });
}

main().catch((error: unknown) => post({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
