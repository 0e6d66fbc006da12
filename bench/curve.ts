/**
 * `node --import tsx bench/curve.ts [--epochs 2] [--limit 3000] [--seed 1] [--threads 2] [--json]`
 *
 * Checks that the fast training path learns the same as the plain one: trains the notebook's
 * recipe with `trainCheckpoint` from the same seed on
 *   plain  - wasm's stock kernels (plus the Conv2DBackpropFilter wasm lacks), one thread
 *   fast   - our wasm kernels, one thread
 *   fastN  - our wasm kernels, data-parallel on N threads
 *   seed+1 - fast, one thread, the next seed: the run-to-run noise scale
 * and prints the per-epoch training loss and test reconstruction error of each. "Within noise"
 * means |fast - plain| and |fastN - plain| are no larger than |seed+1 - fast|.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.js';
import { trainCheckpoint } from '../src/engine/train.js';
import { DEFAULT_TRAIN_OPTIONS, type EpochReport } from '../src/engine/types.js';
import { registerWasmKernels, useStockWasmKernels } from '../src/engine/wasm-kernels/index.js';

const { values: flags } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    limit: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const epochs = Number(flags.epochs);
const limit = Number(flags.limit);
const seed = Number(flags.seed);
const threads = Number(flags.threads);

interface Variant {
  readonly name: string;
  readonly stock: boolean;
  readonly workers: number;
  readonly seed: number;
}

const variants: Variant[] = [
  { name: 'plain', stock: true, workers: 1, seed },
  { name: 'fast', stock: false, workers: 1, seed },
  { name: `fast${threads}`, stock: false, workers: threads, seed },
  { name: 'seed+1', stock: false, workers: 1, seed: seed + 1 },
];

await initBackend('wasm');
const results: Record<string, { epochs: EpochReport[]; seconds: number }> = {};
const dir = await mkdtemp(path.join(os.tmpdir(), 'cvae-curve-'));
try {
  for (const v of variants) {
    if (v.stock) useStockWasmKernels();
    else registerWasmKernels();
    const reports: EpochReport[] = [];
    const t0 = performance.now();
    await trainCheckpoint(
      { ...DEFAULT_TRAIN_OPTIONS, epochs, limit, seed: v.seed, workers: v.workers, backend: 'wasm', checkpointDir: path.join(dir, v.name) },
      { onEpochEnd: (r) => void reports.push(r) },
      { testLimit: 1000, priorComponents: 1 },
    );
    results[v.name] = { epochs: reports, seconds: (performance.now() - t0) / 1000 };
    if (!flags.json) {
      process.stderr.write(`${v.name}: ${reports.map((r) => `epoch ${r.epoch} loss ${r.loss.toFixed(5)} test ${r.testRecon.toFixed(5)}`).join('; ')} (${results[v.name]!.seconds.toFixed(0)} s)\n`);
    }
  }
} finally {
  registerWasmKernels();
  await rm(dir, { recursive: true, force: true });
}

const last = (name: string) => results[name]!.epochs.at(-1)!;
const gap = (a: string, b: string, key: 'loss' | 'testRecon') => Math.abs(last(a)[key] - last(b)[key]);
const noise = { loss: gap('seed+1', 'fast', 'loss'), testRecon: gap('seed+1', 'fast', 'testRecon') };
const summary = {
  epochs,
  limit,
  seed,
  runs: Object.fromEntries(
    Object.entries(results).map(([name, r]) => [name, { seconds: Math.round(r.seconds), epochs: r.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, recon: e.recon, kl: e.kl, testRecon: e.testRecon, testKl: e.testKl })) }]),
  ),
  noise,
  fast_vs_plain: { loss: gap('fast', 'plain', 'loss'), testRecon: gap('fast', 'plain', 'testRecon') },
  parallel_vs_plain: { loss: gap(`fast${threads}`, 'plain', 'loss'), testRecon: gap(`fast${threads}`, 'plain', 'testRecon') },
};
const within = (g: { loss: number; testRecon: number }) => g.loss <= noise.loss && g.testRecon <= noise.testRecon;

if (flags.json) {
  process.stdout.write(JSON.stringify({ ...summary, fast_within_noise: within(summary.fast_vs_plain), parallel_within_noise: within(summary.parallel_vs_plain) }) + '\n');
} else {
  console.log(`after ${epochs} epochs on ${limit} images, final-epoch differences (noise = seed ${seed} vs ${seed + 1}):`);
  console.log(`  noise          loss ${noise.loss.toExponential(2)}  test recon ${noise.testRecon.toExponential(2)}`);
  console.log(`  fast - plain   loss ${summary.fast_vs_plain.loss.toExponential(2)}  test recon ${summary.fast_vs_plain.testRecon.toExponential(2)}  ${within(summary.fast_vs_plain) ? 'within noise' : 'NOT within noise'}`);
  console.log(`  fast${threads} - plain  loss ${summary.parallel_vs_plain.loss.toExponential(2)}  test recon ${summary.parallel_vs_plain.testRecon.toExponential(2)}  ${within(summary.parallel_vs_plain) ? 'within noise' : 'NOT within noise'}`);
  console.log(`  wall time: ${Object.entries(results).map(([n, r]) => `${n} ${r.seconds.toFixed(0)} s`).join(', ')}`);
}
