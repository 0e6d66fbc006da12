/**
 * Moving a model's weights in and out of flat Float32Arrays, in the same order on every thread:
 * the trainable variables (model.ts `trainableVariables` order) then the BatchNorm moving
 * statistics (non-trainable weights, encoder then decoder).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchNormLayers } from '../batchnorm-stats.js';
import { trainableVariables, type Cvae } from '../model.js';

/** The non-trainable variables (BatchNorm moving mean / variance), in a fixed order. */
export function statVariables(model: Cvae): tf.Variable[] {
  return [...model.encoder.nonTrainableWeights, ...model.decoder.nonTrainableWeights].map((w) => w.read() as tf.Variable);
}

export function trainable(model: Cvae): tf.Variable[] {
  return trainableVariables(model).map((v) => v.variable);
}

export function sizeOf(vars: readonly tf.Tensor[]): number {
  return vars.reduce((n, v) => n + v.size, 0);
}

/** Copies the values of `tensors` into `out` from `offset` on; returns the offset after them. */
export function writeTensors(tensors: readonly tf.Tensor[], out: Float32Array, offset = 0): number {
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  return offset;
}

/** Assigns `vars` from `src` starting at `offset`; returns the offset after them. */
export function readVariables(vars: readonly tf.Variable[], src: Float32Array, offset = 0): number {
  tf.tidy(() => {
    for (const v of vars) {
      // slice copies: the cpu backend would otherwise keep a view of the shared buffer as its storage.
      v.assign(tf.tensor(src.slice(offset, offset + v.size), v.shape, 'float32'));
      offset += v.size;
    }
  });
  return offset;
}

/** Numbers one synchronised-BatchNorm all-reduce carries at most: two per channel of the widest layer. */
export function batchNormWidth(model: Cvae): number {
  const channels = [model.encoder, model.decoder].flatMap((m) => batchNormLayers(m)).map((layer) => (layer.getWeights()[0]!.shape as number[])[0]!);
  return 2 * Math.max(1, ...channels) + 1;
}
