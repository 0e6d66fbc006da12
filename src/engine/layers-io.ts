/**
 * One LayersModel as the standard TensorFlow.js files, `model.json` + `weights.bin` (tf.loadLayersModel
 * reads them as they are, over file:// or http). Shared by the CVAE checkpoint and the eval classifier;
 * neither needs tfjs-node's file:// handler. Atomicity is the caller's: it writes into a temp directory
 * that it swaps in when complete (src/fs-atomic.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fsyncDir, writeFileSynced } from './fs-atomic.js';
import { CheckpointError, firstLine } from './errors.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Writes `model.json` + `weights.bin` for `model` into the existing directory `dir`, fsynced. */
export async function writeLayersModel(dir: string, model: tfl.LayersModel): Promise<void> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!captured?.weightSpecs || !captured.weightData || !captured.modelTopology) throw new Error(`saving ${model.name} produced no weights`);
  const weights = Buffer.from(tf.io.CompositeArrayBuffer.join(captured.weightData));
  const modelJson: tf.io.ModelJSON = {
    modelTopology: captured.modelTopology,
    format: 'layers-model',
    generatedBy: captured.generatedBy ?? 'TensorFlow.js tfjs-layers',
    convertedBy: null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: captured.weightSpecs }],
  };
  await writeFileSynced(path.join(dir, WEIGHTS_BIN), weights);
  await writeFileSynced(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
  await fsyncDir(dir);
}

/**
 * Reads the LayersModel in `dir`. Throws CheckpointError naming the file at fault: unreadable or not a
 * LayersModel, a weights path outside `dir`, a size that does not match the manifest, a topology that
 * cannot be rebuilt.
 */
export async function readLayersModel(dir: string): Promise<tfl.LayersModel> {
  const target = path.resolve(dir);
  const jsonFile = path.join(target, MODEL_JSON);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse((await readBytes(jsonFile)).toString('utf8')) as tf.io.ModelJSON;
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(jsonFile, 'is not valid JSON; the model is damaged, retrain or restore it');
  }
  if (modelJson?.format !== 'layers-model' || !modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new CheckpointError(jsonFile, 'is not a TensorFlow.js LayersModel (format, modelTopology, weightsManifest); retrain it');
  }
  const specs = tf.io.getWeightSpecs(modelJson.weightsManifest);
  const paths = modelJson.weightsManifest.flatMap((group) => group.paths);
  const buffers: Buffer[] = [];
  for (const p of paths) {
    const file = path.join(target, p);
    // A manifest is data: it must not make us read files elsewhere.
    if (path.dirname(path.resolve(file)) !== target) throw new CheckpointError(jsonFile, `names weights file ${p} outside its directory`);
    buffers.push(await readBytes(file));
  }
  const weights = Buffer.concat(buffers);
  const expected = specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * bytesPerValue(spec.dtype), 0);
  if (weights.length !== expected) {
    throw new CheckpointError(path.join(target, paths[0] ?? WEIGHTS_BIN), `holds ${weights.length} bytes, ${MODEL_JSON} needs ${expected}; the model is damaged, retrain or restore it`);
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  try {
    return await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: specs, weightData }));
  } catch (error) {
    throw new CheckpointError(jsonFile, `cannot be rebuilt (${firstLine(error)}); retrain it`);
  }
}

/** The bytes of `file`, or a CheckpointError saying it is missing or unreadable. */
export async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(file, 'is missing; the checkpoint is incomplete, retrain or restore it');
    throw new CheckpointError(file, `cannot be read (${code ?? firstLine(error)})`);
  }
}

function bytesPerValue(dtype: string): number {
  return dtype === 'bool' ? 1 : 4;
}
