/** Per-kernel time of one training step (tf.profile): `node --import tsx bench/profile.ts [backend] [batch]`. */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import type { BackendChoice } from '../src/engine/types.js';
import { buildCvae, makeTrainStep, randomBatch } from './train-step.js';

const backend = await initBackend((process.argv[2] ?? 'auto') as BackendChoice);
const batch = Number(process.argv[3] ?? 128);
const m = buildCvae();
const step = makeTrainStep(m, tf.train.adam(5e-4, 0.9, 0.999, 1e-7));
const { x, c } = randomBatch(batch);
const run = () => tf.tidy(() => step(x, c, tf.randomNormal([batch, 16]) as tf.Tensor2D));
for (let i = 0; i < 3; i++) tf.dispose(run());
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const l = run();
  await l.data();
  l.dispose();
  times.push(performance.now() - t0);
}
const prof = await tf.profile(() => run());
const agg = new Map<string, [number, number]>();
for (const k of prof.kernels) {
  const [t, n] = agg.get(k.name) ?? [0, 0];
  agg.set(k.name, [t + (k.kernelTimeMs as number), n + 1]);
}
console.log(`${backend} batch ${batch}: step ms ${times.map((t) => t.toFixed(0)).join(' ')}`);
for (const [k, [t, n]] of [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 20)) console.log(`${k.padEnd(28)} ${t.toFixed(1).padStart(8)} ms  x${n}`);
