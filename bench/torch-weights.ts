/**
 * Weights written by the PyTorch peer's scripts (bench/torch_train.py, bench/torch_step.py) in Keras
 * layout: `layers` names each layer's weight shapes in tfjs-layers' order, `floats` holds them all in
 * that order. Every layer of ours with weights must be set exactly once, with matching shapes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Cvae } from '../src/engine/model.js';

export interface TorchLayer {
  readonly layer: string;
  readonly shapes: number[][];
}

export function setTorchWeights(model: Cvae, layers: readonly TorchLayer[], floats: Float32Array): void {
  const all = [...model.encoder.layers, ...model.decoder.layers];
  const expected = new Set(all.filter((l) => l.getWeights().length > 0).map((l) => l.name));
  let offset = 0;
  for (const { layer: name, shapes } of layers) {
    const layer = all.find((l) => l.name === name);
    if (!layer) throw new Error(`no layer ${name} in the model`);
    const current = layer.getWeights();
    const values = shapes.map((shape, i) => {
      if (JSON.stringify(shape) !== JSON.stringify(current[i]?.shape)) throw new Error(`${name} weight ${i}: PyTorch ${JSON.stringify(shape)}, ours ${JSON.stringify(current[i]?.shape)}`);
      const size = shape.reduce((a, b) => a * b, 1);
      const tensor = tf.tensor(floats.slice(offset, offset + size), shape);
      offset += size;
      return tensor;
    });
    layer.setWeights(values);
    tf.dispose(values);
    expected.delete(name);
  }
  if (offset !== floats.length) throw new Error(`the weights file has ${floats.length} floats, the layers used ${offset}`);
  if (expected.size > 0) throw new Error(`not set: ${[...expected].join(', ')}`);
}

/** Reads `<base>.json` (or weights.json) and `<base>.bin` (or weights.bin). */
export async function readTorchWeights(json: string, bin: string): Promise<{ layers: TorchLayer[]; floats: Float32Array; meta: Record<string, unknown> }> {
  const { readFile } = await import('node:fs/promises');
  const meta = JSON.parse(await readFile(json, 'utf8')) as { layers: TorchLayer[] } & Record<string, unknown>;
  const blob = await readFile(bin);
  return { layers: meta.layers, floats: new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4), meta };
}
