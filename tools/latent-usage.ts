/**
 * How a checkpoint uses its 16 latent dimensions, on the test set: for each dimension the mean KL to
 * N(0, 1), the spread of z_mean over all images and between the digits' means, and the mean posterior
 * variance. The notebook's N(0, I) sampler draws well only where the codes of every digit fill N(0, I)
 * alike; a dimension whose digit means sit far apart carries the digit in the code, and there a draw
 * from N(0, I) may decode as another digit whatever the label says.
 *
 *   node --import tsx tools/latent-usage.ts checkpoints/cvae [/tmp/torch30-ck ...]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadCheckpoint } from '../src/engine/checkpoint.js';
import { loadMnist, NUM_CLASSES } from '../src/engine/data.js';
import { modelInputs, runModel } from '../src/engine/model.js';
import { klPerDimension } from '../src/engine/step.js';

await initBackend('wasm');
const test = await loadMnist('test');
for (const dir of process.argv.slice(2)) {
  const ck = await loadCheckpoint(dir);
  const dim = ck.meta.model.latentDim;
  const mu: number[][] = [];
  const lv: number[][] = [];
  const klSum = new Float64Array(dim);
  for (let start = 0; start < test.count; start += 500) {
    const size = Math.min(500, test.count - start);
    const [m, l, k] = tf.tidy(() => {
      const [zMean, zLogVar] = runModel(ck.encoder, modelInputs(test, start, size), false) as [tf.Tensor2D, tf.Tensor2D];
      return [zMean, zLogVar, tf.sum(klPerDimension(zMean, zLogVar), 0)];
    });
    mu.push(...(m.arraySync() as number[][]));
    lv.push(...(l.arraySync() as number[][]));
    (k.dataSync() as Float32Array).forEach((v, d) => (klSum[d]! += v));
    tf.dispose([m, l, k]);
  }
  const n = mu.length;
  const rows: string[] = [];
  let klTotal = 0, betweenTotal = 0, totalVar = 0;
  for (let d = 0; d < dim; d++) {
    const kl = klSum[d]! / n;
    let mean = 0, post = 0;
    const digitSum = new Array<number>(NUM_CLASSES).fill(0);
    const digitCount = new Array<number>(NUM_CLASSES).fill(0);
    for (let i = 0; i < n; i++) {
      const m = mu[i]![d]!, l = lv[i]![d]!;
      mean += m; post += Math.exp(l);
      digitSum[test.labels[i]!]! += m; digitCount[test.labels[i]!]! += 1;
    }
    mean /= n; post /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (mu[i]![d]! - mean) ** 2;
    v /= n;
    let between = 0;
    for (let c = 0; c < NUM_CLASSES; c++) between += digitCount[c]! * (digitSum[c]! / digitCount[c]! - mean) ** 2;
    between /= n;
    klTotal += kl; betweenTotal += between; totalVar += v;
    rows.push(`  z${String(d).padStart(2)}  KL ${kl.toFixed(2).padStart(6)}  mean ${mean.toFixed(2).padStart(6)}  var(z_mean) ${v.toFixed(2).padStart(6)}  between digits ${between.toFixed(2).padStart(5)} (${(100 * between / v).toFixed(0).padStart(2)}%)  posterior var ${post.toFixed(4)}`);
  }
  console.log(`${dir}: KL ${klTotal.toFixed(2)}, var(z_mean) summed ${totalVar.toFixed(2)}, between digits ${betweenTotal.toFixed(2)} (${(100 * betweenTotal / totalVar).toFixed(1)}%)`);
  console.log(rows.join('\n'));
}
