/**
 * Checkpoints: a directory in the standard TensorFlow.js LayersModel format plus our metadata.
 *
 *   <dir>/encoder/model.json + weights.bin   tf.loadLayersModel can read these as they are
 *   <dir>/decoder/model.json + weights.bin
 *   <dir>/optimizer.bin                      Adam's m and v (float32, in meta.optimizer.variables order)
 *   <dir>/meta.json                          config, history, data fingerprint, fitted latent density ...
 *
 * Saving is atomic: everything is written and fsynced into a sibling `<dir>.partial-*`, then the old
 * directory is renamed to `<dir>.previous`, the new one to `<dir>`, and only then is the backup deleted.
 * A crash at any point leaves either the old or the new checkpoint complete; if it leaves only the
 * backup, loading renames it back.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { backupDirOf, recoverDir, replaceDirAtomic, writeFileSynced } from './fs-atomic.js';
import { checkMeta, type ParsedMeta } from './checkpoint-meta.js';
import { CheckpointError, firstLine } from './errors.js';
import { readBytes, readLayersModel, writeLayersModel } from './layers-io.js';
import type { OptimizerSnapshot } from './adam.js';
import { CVAE_PARTS, DEFAULT_MODEL_CONFIG, trainableVariables, type Cvae, type ModelConfig } from './model.js';
import { validateLatentPrior, type LatentPrior } from './prior.js';
import type { BackendName, CheckpointSummary } from './types.js';

/** Bumped when the layout or meta.json changes incompatibly; loading refuses versions it does not know. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** One row of the training history. */
export interface EpochMetrics {
  readonly epoch: number;
  readonly loss: number;
  readonly recon: number;
  readonly kl: number;
  readonly testRecon: number;
  readonly testKl: number;
  readonly seconds: number;
}

/** The training recipe a checkpoint was made with (what `--resume` continues). */
export interface TrainingRecipe {
  readonly batchSize: number;
  readonly learningRate: number;
  readonly gamma: number;
  readonly seed: number;
  readonly limit: number | null;
  readonly adam: { readonly beta1: number; readonly beta2: number; readonly epsilon: number };
}

/** Where Adam's state lives and what it holds. */
export interface OptimizerManifest {
  readonly file: 'optimizer.bin';
  readonly step: number;
  /** Trainable variables in order; the file holds all m's, then all v's, float32, in this order. */
  readonly variables: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }>;
}

/** meta.json. */
export interface CheckpointMeta {
  readonly formatVersion: number;
  readonly generatedBy: string;
  readonly model: ModelConfig;
  readonly training: TrainingRecipe;
  readonly epochsTrained: number;
  /** Training images the model learned from (the training set size, after `--limit`). */
  readonly trainSamples: number;
  readonly backend: BackendName;
  /** Training time over the checkpoint's life, seconds. */
  readonly wallSeconds: number;
  readonly history: readonly EpochMetrics[];
  readonly data: { readonly fingerprint: string; readonly trainCount: number; readonly source: string };
  /** Absent until training finished its epochs and fitted the density (then the `fitted` sampler works). */
  readonly prior: LatentPrior | null;
  /**
   * Set when training finished (absent or null in per-epoch saves): the BatchNorm statistics were then
   * measured over `batchNormImages` training images with the final weights (batchnorm-stats.ts), and
   * the finished model scored `testRecon` (per-pixel MSE, sampled z) and `testKl` on the test set.
   */
  readonly finish?: { readonly batchNormImages: number; readonly testRecon: number; readonly testKl: number } | null;
  readonly optimizer: OptimizerManifest | null;
  readonly savedAt: string;
}

/** A loaded checkpoint. The caller owns (and disposes) the models. */
export interface LoadedCheckpoint {
  readonly dir: string;
  readonly encoder: tfl.LayersModel;
  readonly decoder: tfl.LayersModel;
  readonly meta: CheckpointMeta;
  /** Present when asked for and stored. */
  readonly optimizer?: OptimizerSnapshot;
}

/** Test hook: called at named points of a save; throwing (or killing the process) simulates a crash there. */
export type SaveFaultHook = (stage: 'files-written' | 'old-moved-aside' | 'new-in-place') => void;

export interface SaveOptions {
  faultHook?: SaveFaultHook;
}

const META_FILE = 'meta.json';
const OPTIMIZER_FILE = 'optimizer.bin';
const PARTS = CVAE_PARTS;

/** The sibling that holds the previous checkpoint while a save swaps directories. */
export { backupDirOf };

/** Writes a checkpoint atomically (see the module comment). */
export async function saveCheckpoint(dir: string, model: Cvae, meta: CheckpointMeta, optimizer?: OptimizerSnapshot, options: SaveOptions = {}): Promise<void> {
  const target = path.resolve(dir);
  try {
    await replaceDirAtomic(
      target,
      async (temp) => {
        for (const part of PARTS) {
          await mkdir(path.join(temp, part));
          await writeLayersModel(path.join(temp, part), model[part]);
        }
        let manifest: OptimizerManifest | null = null;
        if (optimizer) {
          const variables = optimizer.names.map((name, i) => ({ name, shape: shapeOfLength(model, name, optimizer.m[i]!.length) }));
          manifest = { file: OPTIMIZER_FILE, step: optimizer.step, variables };
          await writeFileSynced(path.join(temp, OPTIMIZER_FILE), concatFloat32([...optimizer.m, ...optimizer.v]));
        }
        const fullMeta: CheckpointMeta = { ...meta, formatVersion: CHECKPOINT_FORMAT_VERSION, optimizer: manifest, savedAt: new Date().toISOString() };
        await writeFileSynced(path.join(temp, META_FILE), `${JSON.stringify(fullMeta, null, 1)}\n`);
      },
      { assertReplaceable: () => assertReplaceable(target), onStage: options.faultHook },
    );
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code) throw new CheckpointError(target, `cannot write the checkpoint (${code}); check the directory is writable and the disk has space`);
    throw error;
  }
}

/** How to read a checkpoint. */
export interface ReadOptions {
  /** Also read Adam's state (for `--resume`). */
  withOptimizer?: boolean;
  /** Skip the fitted latent density (meta.prior becomes null): resuming refits it, so a damaged one must not block that. */
  dropPrior?: boolean;
}

/**
 * Throws CheckpointError unless a checkpoint can be written to `dir`: it is absent, an empty
 * directory or a checkpoint, and its parent directory can be created and written. Training calls it
 * before the first epoch, so a bad --checkpoint fails in a second, not after an epoch.
 */
export async function checkCheckpointTarget(dir: string): Promise<void> {
  const target = path.resolve(dir);
  await assertReplaceable(target);
  // The probe's name is one removeStalePartials cleans up, should the process die right here.
  const probe = `${target}.partial-probe-${process.pid}`;
  try {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileSynced(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code) throw error;
    throw new CheckpointError(target, `cannot write a checkpoint here (${code}); check the directory is writable and the disk has space, or pass another --checkpoint`);
  }
}

/** Reads and validates meta.json only (fast; for summaries and resume checks). Recovers a crash-left backup first. */
export async function readCheckpointMeta(dir: string, options: Pick<ReadOptions, 'dropPrior'> = {}): Promise<CheckpointMeta> {
  const target = await recoverIfNeeded(path.resolve(dir));
  return parseMeta(target, options.dropPrior === true);
}

/** Loads and validates a checkpoint. */
export async function loadCheckpoint(dir: string, options: ReadOptions = {}): Promise<LoadedCheckpoint> {
  const target = await recoverIfNeeded(path.resolve(dir));
  const meta = await parseMeta(target, options.dropPrior === true);
  const encoder = await loadPart(target, 'encoder');
  let decoder: tfl.LayersModel;
  try {
    decoder = await loadPart(target, 'decoder');
  } catch (error) {
    encoder.dispose();
    throw error;
  }
  try {
    checkModelShapes(target, meta.model, encoder, decoder);
    let optimizer: OptimizerSnapshot | undefined;
    if (options.withOptimizer && meta.optimizer) optimizer = await readOptimizer(target, meta.optimizer, { encoder, decoder });
    return { dir: target, encoder, decoder, meta, ...(optimizer ? { optimizer } : {}) };
  } catch (error) {
    encoder.dispose();
    decoder.dispose();
    throw error;
  }
}

/** What a front end shows about a checkpoint. */
export function summarizeCheckpoint(dir: string, meta: CheckpointMeta): CheckpointSummary {
  const last = meta.history[meta.history.length - 1];
  return {
    dir: path.resolve(dir),
    epochsTrained: meta.epochsTrained,
    trainSamples: meta.trainSamples,
    backendTrainedOn: meta.backend,
    hasFittedPrior: meta.prior !== null,
    ...(meta.finish ? { testMse: meta.finish.testRecon } : last ? { testMse: last.testRecon } : {}),
  };
}


// ---- internals ----------------------------------------------------------------------------------

/**
 * A save replaces `<dir>` wholesale, so `<dir>` must be ours to replace: absent, an empty directory,
 * or a checkpoint. Without this, `--checkpoint ~/Documents` moved that folder aside and deleted it.
 */
async function assertReplaceable(target: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR' && existsSync(target)) throw new CheckpointError(target, 'is a file, not a checkpoint directory; it is left as it is, pass a new or empty directory to --checkpoint');
    if (code === 'ENOTDIR') throw new CheckpointError(target, 'cannot be created: part of the path is a file, not a directory (ENOTDIR); pass another --checkpoint');
    throw new CheckpointError(target, `cannot be read (${code ?? firstLine(error)})`);
  }
  if (entries.length > 0 && !entries.includes(META_FILE)) {
    throw new CheckpointError(target, 'holds files but no checkpoint (no meta.json); it is left as it is, pass a new or empty directory to --checkpoint');
  }
}

async function recoverIfNeeded(target: string): Promise<string> {
  // A save may have crashed between moving the old checkpoint aside and putting the new one in place.
  if (await recoverDir(target)) return target;
  throw new CheckpointError(target, 'no checkpoint here; train one with `cvae-repl train --checkpoint DIR` or pass the right --checkpoint');
}

async function parseMeta(target: string, dropPrior = false): Promise<CheckpointMeta> {
  const file = path.join(target, META_FILE);
  const text = await readText(file);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(text) as CheckpointMeta;
  } catch {
    throw new CheckpointError(file, 'is not valid JSON; the checkpoint is damaged, retrain or restore it');
  }
  if (typeof meta !== 'object' || meta === null) throw new CheckpointError(file, 'is not a JSON object; retrain or restore the checkpoint');
  if (meta.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(file, `format version ${String(meta.formatVersion)} is not supported (this build reads version ${CHECKPOINT_FORMAT_VERSION}); retrain the checkpoint or upgrade cvae-repl`);
  }
  // Every field, its type and its range (checkpoint-meta.ts), so nothing later reads a missing one.
  const checked = checkMeta(meta);
  if (!checked.ok) throw new CheckpointError(file, `${checked.problem}; retrain or restore the checkpoint`);
  const m = checked.meta.model;
  if (m.imageSize !== DEFAULT_MODEL_CONFIG.imageSize || m.numClasses !== DEFAULT_MODEL_CONFIG.numClasses) {
    throw new CheckpointError(file, `is for ${m.imageSize}x${m.imageSize} images and ${m.numClasses} classes; this app needs 28x28 MNIST digits`);
  }
  const rawPrior = checked.meta.prior;
  const prior = rawPrior == null || dropPrior ? null : validateLatentPrior(rawPrior, m.latentDim, file);
  // backend is a wider string in the schema (bench/import-torch.ts writes 'pytorch').
  return { ...schemaKeepsTheType(checked.meta), formatVersion: checked.meta.formatVersion, backend: checked.meta.backend as BackendName, optimizer: checked.meta.optimizer ?? null, prior };
}

/** A compile error here means the schema (checkpoint-meta.ts) and CheckpointMeta drifted apart. */
function schemaKeepsTheType(meta: ParsedMeta): Omit<CheckpointMeta, 'prior' | 'optimizer' | 'formatVersion' | 'backend'> & { optimizer?: CheckpointMeta['optimizer'] } {
  return meta;
}

async function loadPart(target: string, part: (typeof PARTS)[number]): Promise<tfl.LayersModel> {
  return readLayersModel(path.join(target, part));
}

function checkModelShapes(target: string, config: ModelConfig, encoder: tfl.LayersModel, decoder: tfl.LayersModel): void {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const side = config.imageSize;
  const expectations: Array<[string, unknown, unknown]> = [
    ['encoder inputs', encoder.inputs.map((t) => t.shape), [[null, side, side, 1], [null, config.numClasses]]],
    ['encoder outputs', encoder.outputs.map((t) => t.shape), [[null, config.latentDim], [null, config.latentDim]]],
    ['decoder inputs', decoder.inputs.map((t) => t.shape), [[null, config.latentDim], [null, config.numClasses]]],
    ['decoder outputs', decoder.outputs.map((t) => t.shape), [[null, side, side, 1]]],
  ];
  for (const [what, actual, expected] of expectations) {
    if (!same(actual, expected)) {
      const part = what.startsWith('encoder') ? 'encoder' : 'decoder';
      throw new CheckpointError(path.join(target, part, 'model.json'), `${what} are ${JSON.stringify(actual)}, meta.json's config needs ${JSON.stringify(expected)}; retrain the checkpoint`);
    }
  }
}

async function readOptimizer(target: string, manifest: OptimizerManifest, model: Cvae): Promise<OptimizerSnapshot> {
  const file = path.join(target, manifest.file);
  const variables = trainableVariables(model);
  const fail = (what: string): never => {
    throw new CheckpointError(file, `${what}; resume is impossible, train without --resume`);
  };
  if (manifest.variables.length !== variables.length) fail(`holds state for ${manifest.variables.length} variables, the model has ${variables.length}`);
  manifest.variables.forEach((entry, i) => {
    if (JSON.stringify(entry.shape) !== JSON.stringify(variables[i]!.variable.shape)) fail(`variable ${entry.name} has shape ${JSON.stringify(entry.shape)}, the model needs ${JSON.stringify(variables[i]!.variable.shape)}`);
  });
  const bytes = await readBytes(file);
  const sizes = manifest.variables.map((v) => v.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.length !== 2 * total * 4) fail(`is ${bytes.length} bytes, expected ${2 * total * 4}`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  let offset = 0;
  for (const size of sizes) (m.push(all.slice(offset, offset + size)), (offset += size));
  for (const size of sizes) (v.push(all.slice(offset, offset + size)), (offset += size));
  if (!Number.isInteger(manifest.step) || manifest.step < 0) fail('has an invalid step count');
  return { step: manifest.step, names: manifest.variables.map((x) => x.name), m, v };
}

function shapeOfLength(model: Cvae, name: string, length: number): number[] {
  const found = trainableVariables(model).find((v) => v.name === name);
  if (!found || found.variable.size !== length) throw new Error(`optimizer state ${name} does not match a trainable variable`);
  return found.variable.shape.slice();
}

function concatFloat32(arrays: readonly Float32Array[]): Buffer {
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

async function readText(file: string): Promise<string> {
  return (await readBytes(file)).toString('utf8');
}

