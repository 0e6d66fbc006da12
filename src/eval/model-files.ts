/**
 * The classifier's directory (a LayersModel, src/engine/layers-io.ts, plus metadata) written atomically
 * (src/fs-atomic.ts): everything goes into a sibling temp directory that is swapped in for the target
 * only when complete, so a crash never leaves a half-written model.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { replaceDirAtomic, writeFileSynced } from '../engine/fs-atomic.js';
import { MODEL_JSON, writeLayersModel } from '../engine/layers-io.js';
import { ClassifierError } from './errors.js';

/** Writers for the files of one checkpoint directory under construction. */
export interface CheckpointWriter {
  /** Writes `model.json` + `weights.bin`. */
  layersModel(model: tfl.LayersModel): Promise<void>;
  json(name: string, value: unknown): Promise<void>;
}

// The swap deletes what was at `dir`: only ever a model written here, never a user's folder or file.
async function assertReplaceable(target: string): Promise<void> {
  const existing: string[] | null = await readdir(target).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOTDIR' ? null : []));
  if (existing === null || (existing.length > 0 && !existing.includes(MODEL_JSON))) {
    throw new ClassifierError(`${target} ${existing === null ? 'is a file' : 'holds files but no model.json'}; it is left as it is, pass a new or empty directory to --out`);
  }
}

/**
 * Fills a fresh temp directory through `fill`, then swaps it in for `dir` (`replaceDirAtomic`: files
 * fsynced, the old `dir` kept as `<dir>.previous` until the new one is in place, which `loadClassifier`
 * recovers after a crash). If `fill` throws, `dir` is untouched.
 */
export async function writeCheckpointDir(dir: string, fill: (write: CheckpointWriter) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  await assertReplaceable(target);
  await replaceDirAtomic(target, (temp) =>
    fill({
      layersModel: (model) => writeLayersModel(temp, model),
      json: async (name, value) => {
        await writeFileSynced(path.join(temp, name), `${JSON.stringify(value, null, 2)}\n`);
      },
    }),
    { assertReplaceable: () => assertReplaceable(target) },
  );
}
