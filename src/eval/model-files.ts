/**
 * Standard TensorFlow.js LayersModel files (model.json + weights.bin, loadable by tf.loadLayersModel
 * over file:// or http) written atomically (src/fs-atomic.ts): everything goes into a sibling temp
 * directory that is swapped in for the target only when complete, so a crash never leaves a half-written model.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { recoverDir, replaceDirAtomic, writeFileSynced } from '../fs-atomic.js';
import { ClassifierError } from './errors.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

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
      layersModel: async (model) => {
        await model.save(
          tf.io.withSaveHandler(async (artifacts) => {
            const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
            const modelJson: tf.io.ModelJSON = {
              modelTopology: artifacts.modelTopology!,
              format: artifacts.format ?? 'layers-model',
              generatedBy: artifacts.generatedBy ?? 'cvae-repl',
              convertedBy: null,
              weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
            };
            await writeFileSynced(path.join(temp, WEIGHTS_BIN), Buffer.from(weights));
            await writeFileSynced(path.join(temp, MODEL_JSON), JSON.stringify(modelJson));
            return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
          }),
        );
      },
      json: async (name, value) => {
        await writeFileSynced(path.join(temp, name), `${JSON.stringify(value, null, 2)}\n`);
      },
    }),
    { assertReplaceable: () => assertReplaceable(target) },
  );
}

/** Reads `model.json` + `weights.bin` from `dir` (no network, no tfjs-node file:// handler needed). */
export async function readLayersModel(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
  const manifest = json.weightsManifest?.[0];
  if (manifest === undefined || json.modelTopology === undefined) throw new Error(`${MODEL_JSON} has no topology or weights manifest`);
  const buffers = await Promise.all(
    json.weightsManifest.flatMap((group) => group.paths).map(async (file) => {
      const bytes = await readFile(path.join(dir, file));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    }),
  );
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const expected = weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
  const weightData = tf.io.CompositeArrayBuffer.join(buffers);
  if (weightData.byteLength !== expected) throw new Error(`${WEIGHTS_BIN} has ${weightData.byteLength} bytes, ${MODEL_JSON} describes ${expected}`);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format }));
}
