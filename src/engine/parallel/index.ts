/**
 * Data-parallel training over worker threads: a `TrainStep` (see step.ts) that splits each batch
 * across this thread and `ranks - 1` workers, each with its own tfjs backend and model replica.
 *
 * Per step: the workers' rows go into their shared buffers and they start; this thread computes
 * its own rows meanwhile. Each part computes its share of the whole batch's loss, and BatchNorm is
 * synchronised (batchnorm-sync.ts, over the shared all-reduce of collective.ts): every part
 * normalises with the statistics of all rows, so the parts' gradients sum to exactly the gradient
 * one thread would compute for the whole batch, and every part moves the moving statistics the
 * same way. The engine's Adam applies the summed gradients here, and the new weights (and this
 * thread's moving statistics) go to the shared weights buffer, which every worker loads before its
 * next step. One thread owns the optimizer, so the replicas cannot drift apart.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { computeGradients, createLocalStep, type StepContext, type StepMetrics, type TrainBatch, type TrainStep } from '../step.js';
import type { BackendName } from '../types.js';
import { collectiveBuffer, SharedReducer } from './collective.js';
import { ParallelTrainingError } from './errors.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { batchNormWidth, sizeOf, statVariables, trainable, writeTensors } from './replica.js';
import { firstLine } from '../errors.js';

export { ParallelTrainingError };

export interface ParallelOptions {
  /** Threads computing gradients, this one included (default: the number of cores). */
  readonly ranks?: number;
  /** Largest batch the step will see (default 128); sizes the shared buffers. */
  readonly maxBatch?: number;
  /** The backend each worker initialises (default: the one active here). */
  readonly backend: BackendName;
}

/** How many threads `auto` uses: one per core. */
export function defaultRanks(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Row counts per rank for a batch of `n`: as equal as possible, this thread first; ranks without rows get 0. */
export function splitRows(n: number, ranks: number): number[] {
  const base = Math.floor(n / ranks);
  const extra = n % ranks;
  return Array.from({ length: ranks }, (_, r) => base + (r < extra ? 1 : 0));
}

interface WorkerHandle {
  readonly worker: Worker;
  readonly images: Float32Array;
  readonly onehot: Float32Array;
  readonly eps: Float32Array;
  readonly labels: Uint8Array;
  readonly grads: Float32Array;
  next: ((message: FromWorker) => void) | undefined;
  failure: Error | undefined;
  exited: boolean;
}

function workerUrl(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./worker.js', import.meta.url);
  // Running from source under tsx: module hooks registered with --import do not reach worker
  // threads on Node 20, so a small bootstrap registers tsx in the worker, then loads worker.ts.
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code = `const { register } = await import(${JSON.stringify(api)}); register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

function nextMessage(handle: WorkerHandle): Promise<FromWorker> {
  if (handle.failure) return Promise.reject(handle.failure);
  // Referenced only while awaited: an idle worker must not keep the process alive, but a pending
  // answer must (an unreferenced worker lets Node exit mid-await, silently).
  handle.worker.ref();
  return new Promise((resolve) => {
    handle.next = (message) => {
      handle.worker.unref();
      resolve(message);
    };
  });
}

function expect<T extends FromWorker['type']>(message: FromWorker, type: T, rank: number): Extract<FromWorker, { type: T }> {
  if (message.type === 'error') throw new ParallelTrainingError(`training worker ${rank} failed: ${message.message}`);
  if (message.type !== type) throw new ParallelTrainingError(`training worker ${rank} sent '${message.type}', expected '${type}'`);
  return message as Extract<FromWorker, { type: T }>;
}

/** The data-parallel step; `workers` are its threads (for diagnostics and tests). */
export interface ParallelStep extends TrainStep {
  readonly workers: readonly Worker[];
}

/**
 * Starts the workers and returns the data-parallel step. With `ranks` 1 there are no workers and the
 * step is the plain local one (gradients here, then Adam).
 */
export async function createParallelStep(context: StepContext, options: ParallelOptions): Promise<ParallelStep> {
  const ranks = Math.max(1, Math.floor(options.ranks ?? defaultRanks()));
  const maxBatch = Math.max(1, options.maxBatch ?? 128);
  const { model, optimizer, config } = context;
  const vars = trainable(model);
  const stats = statVariables(model);
  const nTrainable = sizeOf(vars);
  const nStats = sizeOf(stats);
  const side = config.imageSize;
  const maxRows = Math.ceil(maxBatch / ranks);

  const weights = new Float32Array(new SharedArrayBuffer((nTrainable + nStats) * 4));
  const width = batchNormWidth(model);
  const sync = collectiveBuffer(ranks, width);
  const reducer = new SharedReducer(sync, 0, ranks, width);
  if (optimizer.size !== nTrainable) throw new RangeError(`the optimizer holds ${optimizer.size} numbers, the model ${nTrainable}`);
  writeTensors(stats, weights, writeTensors(vars, weights));

  const handles: WorkerHandle[] = [];
  const closeAll = async () => {
    await Promise.all(
      handles.map(async (h) => {
        if (h.exited) return;
        h.worker.postMessage({ type: 'close' } satisfies ToWorker);
        // A worker that does not exit promptly on 'close' is stopped.
        const timer = setTimeout(() => void h.worker.terminate(), 2000);
        await new Promise((resolve) => h.worker.once('exit', resolve));
        clearTimeout(timer);
      }),
    );
  };
  try {
    for (let rank = 1; rank < ranks; rank++) {
      const init: WorkerInit = {
        rank,
        backend: options.backend,
        config,
        maxRows,
        weights: weights.buffer as SharedArrayBuffer,
        images: new SharedArrayBuffer(maxRows * side * side * 4),
        onehot: new SharedArrayBuffer(maxRows * config.numClasses * 4),
        eps: new SharedArrayBuffer(maxRows * config.latentDim * 4),
        labels: new SharedArrayBuffer(maxRows),
        grads: new SharedArrayBuffer(nTrainable * 4),
        sync,
        ranks,
        syncWidth: width,
      };
      const worker = new Worker(workerUrl(), { workerData: init });
      const handle: WorkerHandle = {
        worker,
        images: new Float32Array(init.images),
        onehot: new Float32Array(init.onehot),
        eps: new Float32Array(init.eps),
        labels: new Uint8Array(init.labels),
        grads: new Float32Array(init.grads),
        next: undefined,
        failure: undefined,
        exited: false,
      };
      const fail = (error: Error) => {
        handle.failure = new ParallelTrainingError(`training worker ${rank} stopped: ${firstLine(error)}`);
        const waiting = handle.next;
        handle.next = undefined;
        waiting?.({ type: 'error', message: handle.failure.message });
      };
      worker.on('message', (message: FromWorker) => {
        const waiting = handle.next;
        handle.next = undefined;
        waiting?.(message);
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        handle.exited = true;
        if (!handle.failure) fail(new Error(`exited with code ${code}`));
      });
      worker.unref();
      handles.push(handle);
    }
    for (const [i, h] of handles.entries()) {
      const ready = expect(await nextMessage(h), 'ready', i + 1);
      if (ready.trainable !== nTrainable || ready.stats !== nStats) {
        throw new ParallelTrainingError(`training worker ${i + 1} built a different model (${ready.trainable}/${ready.stats} weights, expected ${nTrainable}/${nStats})`);
      }
    }
  } catch (error) {
    await closeAll();
    throw error;
  }

  const sum = new Float32Array(nTrainable);
  return {
    workers: handles.map((h) => h.worker),
    async run(batch: TrainBatch): Promise<StepMetrics> {
      if (batch.size < 1) throw new ParallelTrainingError('a training step needs at least one row');
      if (batch.size > ranks * maxRows) throw new ParallelTrainingError(`batch of ${batch.size} exceeds the parallel step's maximum ${ranks * maxRows}`);
      // A worker known to be gone would leave this thread waiting for it at the first BatchNorm sync.
      const gone = handles.find((h) => h.failure);
      if (gone) throw gone.failure;
      const latent = batch.eps.length / batch.size;
      const rows = splitRows(batch.size, ranks);
      const parts = rows.filter((n) => n > 0).length;
      const own = rows[0]!;
      const pending: Array<Promise<FromWorker>> = [];
      let start = own;
      for (const [i, h] of handles.entries()) {
        const n = rows[i + 1]!;
        if (n === 0) continue;
        h.images.set(batch.images.subarray(start * side * side, (start + n) * side * side));
        h.onehot.set(batch.onehot.subarray(start * config.numClasses, (start + n) * config.numClasses));
        h.eps.set(batch.eps.subarray(start * latent, (start + n) * latent));
        h.labels.set(batch.labels.subarray(start, start + n));
        const answer = nextMessage(h);
        h.worker.postMessage({ type: 'step', size: n, rows: batch.size, parts, gamma: context.gamma } satisfies ToWorker);
        pending.push(answer);
        start += n;
      }
      // This thread's rows, while the workers compute theirs; BatchNorm meets them mid-pass.
      let mine: ReturnType<typeof computeGradients>;
      try {
        mine = computeGradients(
          model,
          {
            size: own,
            images: batch.images.subarray(0, own * side * side),
            onehot: batch.onehot.subarray(0, own * config.numClasses),
            labels: batch.labels.subarray(0, own),
            eps: batch.eps.subarray(0, own * latent),
          },
          context.gamma,
          { rows: batch.size, reducer: reducer.forStep(parts) },
        );
      } catch (error) {
        reducer.abort();
        await Promise.allSettled(pending);
        throw error;
      }
      const answers = await Promise.allSettled(pending);
      const failed = answers.find((a) => a.status === 'rejected');
      if (failed) {
        tf.dispose(mine.grads);
        throw failed.reason;
      }

      // The parts' gradients sum to the whole batch's; metrics are row-weighted means.
      writeTensors(mine.grads, sum);
      tf.dispose(mine.grads);
      const w0 = own / batch.size;
      const metrics = { loss: mine.metrics.loss * w0, recon: mine.metrics.recon * w0, kl: mine.metrics.kl * w0 };
      let k = 0;
      for (const [i, h] of handles.entries()) {
        const n = rows[i + 1]!;
        if (n === 0) continue;
        const done = expect((answers[k++] as PromiseFulfilledResult<FromWorker>).value, 'done', i + 1);
        const w = n / batch.size;
        const g = h.grads;
        for (let j = 0; j < sum.length; j++) sum[j]! += g[j]!;
        metrics.loss += done.loss * w;
        metrics.recon += done.recon * w;
        metrics.kl += done.kl * w;
      }
      // The shared buffer holds the weights every thread computed with: Adam updates them there
      // (and this thread's variables), then the moving statistics this step moved are published.
      optimizer.applyFlat(sum, weights);
      writeTensors(stats, weights, nTrainable);
      return metrics;
    },
    async dispose(): Promise<void> {
      await closeAll();
    },
  };
}

const MAX_AUTO_RANKS = 4;
const MIN_ROWS_PER_RANK = 16;

export interface AutoStepOptions {
  /** Threads for gradients; undefined: one per core on wasm (at most 4, at least 16 rows each), 1 elsewhere (tfjs-node already uses every core). */
  readonly workers?: number | undefined;
  readonly backend: BackendName;
  readonly batchSize: number;
  readonly onStatus?: ((message: string) => void) | undefined;
}

/**
 * The training step `trainCheckpoint` uses by default: data-parallel over `workers` threads when
 * that is more than one, else the plain local step. If the workers cannot start, training goes on
 * on this thread and `onStatus` says why.
 */
export async function createAutoStep(context: StepContext, options: AutoStepOptions): Promise<TrainStep> {
  if (options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers >= 1)) {
    throw new InvalidArgumentError(`workers must be a whole number >= 1, got ${options.workers}`);
  }
  // By default at most MAX_AUTO_RANKS threads, each with at least MIN_ROWS_PER_RANK rows: past
  // that, per-op overheads and one model replica per thread cost more than the cores give.
  const auto = options.backend === 'wasm' ? Math.min(defaultRanks(), MAX_AUTO_RANKS, Math.floor(options.batchSize / MIN_ROWS_PER_RANK)) : 1;
  // tfjs-node runs its kernels on its own thread pool: one process, one model.
  if (options.backend === 'tensorflow' && (options.workers ?? 1) > 1) options.onStatus?.('the tensorflow backend uses its own threads; --threads is ignored');
  const ranks = options.backend === 'tensorflow' ? 1 : Math.min(options.workers ?? auto, options.batchSize);
  if (ranks <= 1) {
    if (options.workers !== undefined) options.onStatus?.('training on 1 thread');
    return createLocalStep(context);
  }
  try {
    const step = await createParallelStep(context, { ranks, maxBatch: options.batchSize, backend: options.backend });
    options.onStatus?.(`training on ${ranks} threads`);
    return step;
  } catch (error) {
    options.onStatus?.(`parallel training unavailable (${error instanceof Error ? error.message : String(error)}); training on one thread`);
    return createLocalStep(context);
  }
}
