/**
 * Per-kernel time of one training step of the app's own path (train.ts computeGradients + Adam),
 * by tf.profile: `node --import tsx bench/profile.ts [backend] [batch] [--stock] [--per-call]`.
 * --stock: wasm's stock kernels (see useStockWasmKernels), for comparison.
 * --per-call: also every convolution kernel's own time and input shapes, in call order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadMnist, sliceBatch } from '../src/engine/data.js';
import { buildCvae, DEFAULT_MODEL_CONFIG } from '../src/engine/model.js';
import { createRng, normals } from '../src/engine/rng.js';
import { createAdam } from '../src/engine/adam.js';
import { createLocalStep } from '../src/engine/step.js';
import type { BackendChoice } from '../src/engine/types.js';
import { useStockWasmKernels } from '../src/engine/wasm-kernels/index.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const backend = await initBackend((args[0] ?? 'auto') as BackendChoice);
if (process.argv.includes('--stock')) useStockWasmKernels();
const size = Number(args[1] ?? 128);
const data = await loadMnist('train', { limit: size });
const batch = { ...sliceBatch(data, 0, size), eps: normals(size * 16, createRng(1, 'eps')) };
const model = buildCvae();
const step = createLocalStep({ model, optimizer: createAdam(model, 5e-4), gamma: 1e-4, config: DEFAULT_MODEL_CONFIG });
for (let i = 0; i < 3; i++) await step.run(batch);
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await step.run(batch);
  times.push(performance.now() - t0);
}
const prof = await tf.profile(() => void step.run(batch));
const agg = new Map<string, [number, number]>();
for (const k of prof.kernels) {
  const [t, n] = agg.get(k.name) ?? [0, 0];
  agg.set(k.name, [t + (k.kernelTimeMs as number), n + 1]);
}
let total = 0;
for (const [name, [t]] of agg) if (!name.endsWith('__op')) total += t;
console.log(`${backend} batch ${size}: step ms ${times.map((t) => t.toFixed(0)).join(' ')}; kernel time ${total.toFixed(0)} ms`);
for (const [k, [t, n]] of [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 20)) console.log(`${k.padEnd(28)} ${t.toFixed(1).padStart(8)} ms  x${n}`);
if (process.argv.includes('--per-call')) for (const k of prof.kernels) if (/Conv/.test(k.name)) console.log(k.name.padEnd(24), (k.kernelTimeMs as number).toFixed(2).padStart(7), JSON.stringify(k.inputShapes));
