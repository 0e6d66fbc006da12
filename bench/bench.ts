/**
 * `npm run bench [-- --json] [--rounds N] [--steps N] [--backend B] [--no-peer]`
 *
 * Training throughput (batches of 128, the full model, after warm-up), 3x3-grid generation time
 * (z -> pixels, median) and start-up time, and, when Debian's python3-torch is importable, the
 * PyTorch peer (../shared/bench/torch_peer.py) at the same thread count, measured INTERLEAVED
 * with ours in the same run (ours, peer, ours, peer, ...) so machine noise hits both alike.
 * With --json: one JSON object on stdout; otherwise a table.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { runModel } from '../src/engine/model.js';
import type { BackendChoice } from '../src/engine/types.js';
import { buildCvae, makeTrainStep, randomBatch } from './train-step.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const BATCH = 128;

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '8' },
    backend: { type: 'string', default: 'auto' },
    peer: { type: 'string', default: path.resolve(ROOT, '../shared/bench/torch_peer.py') },
    'no-peer': { type: 'boolean', default: false },
    'peer-threads': { type: 'string', default: '2' },
  },
});

const rounds = Math.max(1, Number(flags.rounds));
const steps = Math.max(1, Number(flags.steps));
const peerThreads = Number(flags['peer-threads']);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

function log(message: string): void {
  if (!flags.json) process.stderr.write(message + '\n');
}

// --- ours -----------------------------------------------------------------------------------------

const backend = await initBackend(flags.backend as BackendChoice);
const model = buildCvae();
const optimizer = tf.train.adam(5e-4, 0.9, 0.999, 1e-7);
const step = makeTrainStep(model, optimizer);
const { x, c } = randomBatch(BATCH);

async function trainOnce(): Promise<void> {
  const loss = tf.tidy(() => step(x, c, tf.randomNormal([BATCH, 16]) as tf.Tensor2D));
  await loss.data(); // as the trainer does: the loss is reported every batch
  loss.dispose();
}

/** Samples per second over `steps` consecutive training steps. */
async function oursRound(): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainOnce();
  return (steps * BATCH * 1000) / (performance.now() - t0);
}

function gen9Ms(repeats = 40): number {
  const z = tf.randomNormal([9, 16]);
  const label = tf.cast(tf.oneHot(tf.fill([9], 3, 'int32') as tf.Tensor1D, 10), 'float32');
  const once = () => {
    const t0 = performance.now();
    const pixels = tf.tidy(() => runModel(model.decoder, [z, label], false)[0]!);
    pixels.dataSync();
    pixels.dispose();
    return performance.now() - t0;
  };
  for (let i = 0; i < 5; i++) once();
  const times = Array.from({ length: repeats }, once);
  tf.dispose([z, label]);
  return median(times);
}

/** Wall time of a fresh process that loads tfjs, picks the backend, builds the model and decodes one grid. */
function startupMs(): number | undefined {
  const script = [
    "const t0 = performance.now();",
    "const { initBackend } = await import('./src/engine/backend.ts');",
    "const { buildDecoder, runModel } = await import('./src/engine/model.ts');",
    "const tf = await import('@tensorflow/tfjs-core');",
    `await initBackend(${JSON.stringify(flags.backend)});`,
    'const d = buildDecoder();',
    "tf.tidy(() => runModel(d, [tf.zeros([9, 16]), tf.zeros([9, 10])], false)[0].dataSync());",
    'console.log(JSON.stringify({ inner: performance.now() - t0 }));',
  ].join('\n');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) return undefined;
  return wall;
}

// --- the peer -------------------------------------------------------------------------------------

interface PeerResult {
  readonly samples_per_s: number;
  readonly ms_per_batch128: number;
  readonly gen9_ms: number;
  readonly threads: number;
}

function peerAvailable(): string | undefined {
  if (flags['no-peer']) return 'disabled (--no-peer)';
  if (!existsSync(flags.peer)) return `peer script not found: ${flags.peer}`;
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.status !== 0) return 'python3 cannot import torch (apt-get install -y python3-torch)';
  return undefined;
}

function peerRound(): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [flags.peer, '--device', 'cpu', '--threads', String(peerThreads), '--steps', String(steps)],
      { encoding: 'utf8', timeout: 600_000 },
      (error, stdout) => {
        if (error) return reject(error);
        const line = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(line) as PeerResult);
        } catch {
          reject(new Error(`peer printed no JSON: ${line.slice(0, 200)}`));
        }
      },
    );
  });
}

// --- run ------------------------------------------------------------------------------------------

const loadBefore = os.loadavg()[0]!;
log(`backend ${backend}; warming up`);
for (let i = 0; i < 3; i++) await trainOnce();
const peerMissing = peerAvailable();
const ours: number[] = [];
const peer: PeerResult[] = [];
for (let r = 0; r < rounds; r++) {
  ours.push(await oursRound());
  log(`round ${r + 1}/${rounds}: ours ${ours.at(-1)!.toFixed(1)} samples/s`);
  if (!peerMissing) {
    peer.push(await peerRound());
    log(`round ${r + 1}/${rounds}: peer ${peer.at(-1)!.samples_per_s.toFixed(1)} samples/s`);
  }
}
const gen9 = gen9Ms();
const startup = startupMs();

const oursMedian = median(ours);
const peerMedian = peer.length ? median(peer.map((p) => p.samples_per_s)) : undefined;
// The ratio of medians, and per round (each ours/peer pair ran back to back).
const pairRatios = peer.map((p, i) => ours[i]! / p.samples_per_s);

const result: Record<string, unknown> = {
  backend,
  threads: 1,
  batch: BATCH,
  steps_per_round: steps,
  rounds,
  train_samples_per_s: round1(oursMedian),
  train_ms_per_batch: round1((BATCH * 1000) / oursMedian),
  train_samples_per_s_rounds: ours.map(round1),
  gen9_ms: round2(gen9),
  startup_ms: startup === undefined ? null : Math.round(startup),
  // Other processes share the cores; the 1-minute load average says how much.
  load_avg_1m: [round2(loadBefore), round2(os.loadavg()[0]!)],
  ...(peerMedian === undefined
    ? { peer_torch: peerMissing }
    : {
        peer_torch_threads: peerThreads,
        peer_torch_samples_per_s: round1(peerMedian),
        peer_torch_samples_per_s_rounds: peer.map((p) => round1(p.samples_per_s)),
        peer_torch_gen9_ms: round2(median(peer.map((p) => p.gen9_ms))),
        ratio: round2(oursMedian / peerMedian),
        ratio_rounds: pairRatios.map(round2),
      }),
};

if (flags.json) {
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  const rows: [string, string, string][] = [
    ['', `cvae-repl (${backend}, ${result.threads} thread)`, peerMedian === undefined ? 'PyTorch peer' : `PyTorch CPU (${peerThreads} threads)`],
    ['train samples/s (batch 128)', String(result.train_samples_per_s), peerMedian === undefined ? String(peerMissing) : String(round1(peerMedian))],
    ['ms per batch', String(result.train_ms_per_batch), peerMedian === undefined ? '' : String(round1((BATCH * 1000) / peerMedian))],
    ['3x3 grid, z -> pixels (median ms)', String(result.gen9_ms), peer.length ? String(round2(median(peer.map((p) => p.gen9_ms)))) : ''],
    ['start-up to first grid (ms)', String(result.startup_ms ?? 'n/a'), ''],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, cc] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${cc}`);
  if (peerMedian !== undefined) console.log(`ratio ours / peer: ${round2(oursMedian / peerMedian)} (per round: ${pairRatios.map(round2).join(', ')})`);
}
