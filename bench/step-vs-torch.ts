/**
 * Does our trainer take the same step as PyTorch? PyTorch is the independent oracle here: the peer
 * (bench/torch_step.py) writes its initial weights, a batch's noise, the loss of each of its Adam steps
 * and its final weights; this starts our model from those weights and takes the same steps on the same
 * batch with the same noise (the engine's computeGradients and Adam, wasm backend and its kernels), then
 * compares each step's loss and every variable after the last step.
 *
 *   /usr/bin/python3 bench/torch_step.py --out /tmp/torch-step --steps 3 [--adam keras|torch]
 *   node --import tsx bench/step-vs-torch.ts /tmp/torch-step [--threads N] [--backend cpu]
 *
 * --threads N: the data-parallel step (synchronised BatchNorm) instead of one thread.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createAdam } from '../src/engine/adam.js';
import { initBackend } from '../src/engine/backend.js';
import { loadMnist, sliceBatch } from '../src/engine/data.js';
import { buildCvae, DEFAULT_MODEL_CONFIG } from '../src/engine/model.js';
import { createLocalStep, type TrainStep } from '../src/engine/step.js';
import type { BackendChoice } from '../src/engine/types.js';
import { readTorchWeights, setTorchWeights } from './torch-weights.js';

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string', default: '1' }, backend: { type: 'string', default: 'wasm' } } });
const dir = positionals[0];
if (!dir) {
  console.error('usage: node --import tsx bench/step-vs-torch.ts <torch_step.py --out dir> [--threads N] [--backend B]');
  process.exit(2);
}
const run = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as { steps: number; batch: number; adam: string; distinct?: boolean; losses: number[][] };
const backend = await initBackend(flags.backend as BackendChoice);
const model = buildCvae();
const initial = await readTorchWeights(path.join(dir, 'initial.json'), path.join(dir, 'initial.bin'));
setTorchWeights(model, initial.layers, initial.floats);
const final = await readTorchWeights(path.join(dir, 'final.json'), path.join(dir, 'final.bin'));
const expected = buildCvae();
setTorchWeights(expected, final.layers, final.floats);

const eps = new Float32Array((await readFile(path.join(dir, 'eps.bin'))).buffer.slice(0));
const data = await loadMnist('train', { limit: run.batch * (run.distinct ? run.steps : 1) });
const optimizer = createAdam(model, 5e-4);
const context = { model, optimizer, gamma: 1e-4, config: DEFAULT_MODEL_CONFIG };
const threads = Number(flags.threads);
const step: TrainStep = threads > 1
  ? await (await import('../src/engine/parallel/index.js')).createParallelStep(context, { ranks: threads, backend, maxBatch: run.batch })
  : createLocalStep(context);
console.log(`ours: ${backend}, ${threads} thread${threads === 1 ? '' : 's'}; PyTorch Adam: ${run.adam}; batch ${run.batch}, ${run.steps} steps`);
console.log('step | loss ours | loss PyTorch | relative difference');
for (let t = 0; t < run.steps; t++) {
  const first = run.distinct ? t * run.batch : 0;
  const batch = { ...sliceBatch(data, first, first + run.batch), eps: eps.slice(t * run.batch * 16, (t + 1) * run.batch * 16) };
  const metrics = await step.run(batch);
  const theirs = run.losses[t]![0]!;
  if (run.steps <= 10 || (t + 1) % Math.ceil(run.steps / 10) === 0 || t === 0) {
    console.log(`${t + 1} | ${metrics.loss.toPrecision(8)} | ${theirs.toPrecision(8)} | ${(Math.abs(metrics.loss - theirs) / theirs).toExponential(2)}`);
  }
}
await step.dispose?.();

console.log('\nweights after the last step, relative L2 difference |ours - PyTorch| / |PyTorch - initial| (how much of the update differs):');
const rows: Array<[string, number, number]> = [];
const before = buildCvae();
setTorchWeights(before, initial.layers, initial.floats);
const weightsOf = (m: typeof model) => [...m.encoder.weights, ...m.decoder.weights];
weightsOf(model).forEach((w, i) => {
  const ours = w.read().dataSync() as Float32Array;
  const theirs = weightsOf(expected)[i]!.read().dataSync() as Float32Array;
  const start = weightsOf(before)[i]!.read().dataSync() as Float32Array;
  let diff = 0;
  let update = 0;
  for (let k = 0; k < ours.length; k++) {
    diff += (ours[k]! - theirs[k]!) ** 2;
    update += (theirs[k]! - start[k]!) ** 2;
  }
  rows.push([w.name, Math.sqrt(diff / Math.max(update, 1e-30)), Math.sqrt(update)]);
});
for (const [name, rel, size] of rows) console.log(`${name.padEnd(36)} ${rel.toExponential(2)}  (update L2 ${size.toExponential(2)})`);

