/**
 * What the data-parallel trainer and its worker threads share: buffer layout and messages.
 * Bulk data (batch rows, weights, gradients, BatchNorm statistics) lives in SharedArrayBuffers
 * allocated once; messages only say "go" and carry the few metric numbers.
 */
import type { BackendName } from '../types.js';
import type { ModelConfig } from '../model.js';

/** Everything a worker needs to build its replica. */
export interface WorkerInit {
  readonly rank: number;
  readonly backend: BackendName;
  readonly config: ModelConfig;
  readonly maxRows: number;
  /** Shared by all ranks: trainable weights (trainableVariables order) then BatchNorm moving statistics. */
  readonly weights: SharedArrayBuffer;
  /** This worker's rows: images [maxRows*side*side], one-hot [maxRows*classes], eps [maxRows*latent]. */
  readonly images: SharedArrayBuffer;
  readonly onehot: SharedArrayBuffer;
  readonly eps: SharedArrayBuffer;
  readonly labels: SharedArrayBuffer;
  /** This worker's share of the gradients (trainable count). */
  readonly grads: SharedArrayBuffer;
  /** The synchronised-BatchNorm all-reduce (collective.ts) over `ranks` parts of `syncWidth` numbers. */
  readonly sync: SharedArrayBuffer;
  readonly ranks: number;
  readonly syncWidth: number;
}

/** A step: this worker's `size` rows of a batch of `rows`, split over ranks 0 .. parts-1. */
export type ToWorker = { readonly type: 'step'; readonly size: number; readonly rows: number; readonly parts: number; readonly gamma: number } | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready'; readonly trainable: number; readonly stats: number }
  | { readonly type: 'done'; readonly loss: number; readonly recon: number; readonly kl: number }
  | { readonly type: 'error'; readonly message: string };
