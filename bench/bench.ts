/**
 * `npm run bench [-- --json] [--rounds N] [--steps N] [--threads N] [--peer-threads N] [--backend B] [--no-peer] [--no-single] [--checkpoint DIR]`
 *
 * Training throughput of the app's own training step (train.ts: batches of 128 of real MNIST, the
 * full model, the engine's Adam, after warm-up) on `threads` threads (default one per core; the
 * data-parallel step) and on one thread; 3x3-grid generation (z -> pixels, median); start-up of
 * the app to its prompt; and, when Debian's python3-torch is importable, the PyTorch peer
 * (../shared/bench/torch_peer.py) at the same thread count. All training measurements alternate
 * in rounds (ours, ours on 1 thread, peer, ours, ...) so machine noise hits them alike.
 * With --json: one JSON object on stdout; otherwise a table. Progress goes to stderr.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { gatherBatch, loadMnist } from '../src/engine/data.js';
import { buildCvae, DEFAULT_MODEL_CONFIG, runModel, seedWeights } from '../src/engine/model.js';
import { createParallelStep, defaultRanks } from '../src/engine/parallel/index.js';
import { createRng, normals, permutation } from '../src/engine/rng.js';
import { createAdam } from '../src/engine/adam.js';
import { createLocalStep, type StepContext, type TrainStep } from '../src/engine/step.js';
import type { BackendChoice } from '../src/engine/types.js';
import { PROMPT } from '../src/prompt/input.js';

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
    threads: { type: 'string' },
    'no-single': { type: 'boolean', default: false },
    'peer-threads': { type: 'string' },
    checkpoint: { type: 'string' },
  },
});

const rounds = Math.max(1, Number(flags.rounds));
const steps = Math.max(1, Number(flags.steps));

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
const threads = Math.max(1, Number(flags.threads ?? (backend === 'wasm' ? defaultRanks() : 1)));
// The peer runs at the same thread count as ours unless told otherwise.
const peerThreads = Math.max(1, Number(flags['peer-threads'] ?? threads));
const data = await loadMnist('train', { limit: BATCH * 8 });
const order = permutation(data.count, createRng(1, 'bench'));
const epsRng = createRng(1, 'eps');
let cursor = 0;
function nextBatch() {
  const start = cursor;
  cursor = (cursor + BATCH) % data.count;
  return { ...gatherBatch(data, order, start, start + BATCH), eps: normals(BATCH * DEFAULT_MODEL_CONFIG.latentDim, epsRng) };
}

/** A model, the engine's Adam and a step (the app's own training code path). */
async function trainer(ranks: number): Promise<{ step: TrainStep; context: StepContext }> {
  const model = buildCvae();
  seedWeights(model, createRng(1, 'init'));
  const context: StepContext = { model, optimizer: createAdam(model, 5e-4), gamma: 1e-4, config: DEFAULT_MODEL_CONFIG };
  const step = ranks > 1 ? await createParallelStep(context, { ranks, maxBatch: BATCH, backend }) : createLocalStep(context);
  return { step, context };
}

const main = await trainer(threads);
const single = threads > 1 && !flags['no-single'] ? await trainer(1) : undefined;
const model = main.context.model;

// CPU time per batch over all threads of this process (workers included), per trainer: unlike
// wall time it barely moves when other processes compete for the cores, so it shows what the
// parallel step costs in overhead on a busy machine.
const cpuMs = new Map<TrainStep, number[]>();

/** Samples per second over `steps` consecutive training steps. */
async function oursRound(step: TrainStep): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step.run(nextBatch());
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  cpuMs.set(step, [...(cpuMs.get(step) ?? []), (cpu.user + cpu.system) / 1000 / steps]);
  return (steps * BATCH * 1000) / wall;
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

/**
 * Start-up to the prompt: a fresh `cvae-repl` in line mode (stdin a pipe) until it prints the
 * prompt, using dist/cli.js when built (what users run), else src through tsx. Needs a checkpoint.
 */
async function startupToPrompt(): Promise<{ ms: number; via: string } | string> {
  const checkpoint = flags.checkpoint ?? path.join(ROOT, 'checkpoints', 'cvae');
  if (!existsSync(path.join(checkpoint, 'meta.json')) && !existsSync(checkpoint)) return `no checkpoint at ${checkpoint}`;
  const dist = path.join(ROOT, 'dist', 'cli.js');
  const args = existsSync(dist) ? [dist] : ['--import', 'tsx', path.join(ROOT, 'src', 'cli.tsx')];
  const via = existsSync(dist) ? 'dist/cli.js' : 'src/cli.tsx via tsx';
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...args, '--checkpoint', checkpoint, '--backend', flags.backend], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    const finish = (result: { ms: number; via: string } | string) => {
      if (done) return;
      done = true;
      child.stdin.end('-1\n');
      setTimeout(() => child.kill(), 2000).unref();
      resolve(result);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(PROMPT)) finish({ ms: performance.now() - t0, via });
    });
    child.on('exit', () => finish(`the app exited before its prompt: ${out.slice(0, 200)}`));
    setTimeout(() => finish('no prompt within 30 s'), 30_000).unref();
  });
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
log(`backend ${backend}, ${threads} thread(s); warming up`);
// Warm-up: a round's worth of steps, at least 10. V8 optimises the step's JavaScript (and each
// worker's) over its first steps: a fresh 2-thread step took 1080, 382, 311, 271 ms, ... and
// settled near the tenth. A training run takes 469 steps an epoch; its speed is the settled one.
for (const t of [main, single]) if (t) for (let i = 0; i < Math.max(10, steps); i++) await t.step.run(nextBatch());
const peerMissing = peerAvailable();
const ours: number[] = [];
const oursSingle: number[] = [];
const peer: PeerResult[] = [];
// Rounds alternate ours / (ours on one thread) / peer, so load changes hit all of them alike.
for (let r = 0; r < rounds; r++) {
  ours.push(await oursRound(main.step));
  log(`round ${r + 1}/${rounds}: ours (${threads} threads) ${ours.at(-1)!.toFixed(1)} samples/s`);
  if (single) {
    oursSingle.push(await oursRound(single.step));
    log(`round ${r + 1}/${rounds}: ours (1 thread) ${oursSingle.at(-1)!.toFixed(1)} samples/s`);
  }
  if (!peerMissing) {
    peer.push(await peerRound());
    log(`round ${r + 1}/${rounds}: peer (${peerThreads} threads) ${peer.at(-1)!.samples_per_s.toFixed(1)} samples/s`);
  }
}
const gen9 = gen9Ms();
const startup = await startupToPrompt();
for (const t of [main, single]) await t?.step.dispose?.();

const oursMedian = median(ours);
const peerMedian = peer.length ? median(peer.map((p) => p.samples_per_s)) : undefined;
// Per round too: each ours/peer pair ran back to back.
const pairRatios = peer.map((p, i) => ours[i]! / p.samples_per_s);

const result: Record<string, unknown> = {
  backend,
  threads,
  batch: BATCH,
  steps_per_round: steps,
  rounds,
  train_samples_per_s: round1(oursMedian),
  train_ms_per_batch: round1((BATCH * 1000) / oursMedian),
  train_samples_per_s_rounds: ours.map(round1),
  train_cpu_ms_per_batch: round1(median(cpuMs.get(main.step) ?? [NaN])),
  ...(oursSingle.length
    ? {
        train_samples_per_s_1thread: round1(median(oursSingle)),
        train_samples_per_s_1thread_rounds: oursSingle.map(round1),
        train_cpu_ms_per_batch_1thread: round1(median(cpuMs.get(single!.step) ?? [NaN])),
      }
    : {}),
  gen9_ms: round2(gen9),
  ...(typeof startup === 'string' ? { startup_ms: null, startup_note: startup } : { startup_ms: Math.round(startup.ms), startup_via: startup.via }),
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
  // Other processes share the cores; the 1-minute load average before and after says how much.
  load_avg_1m: [round2(loadBefore), round2(os.loadavg()[0]!)],
};

if (flags.json) {
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  const peerCol = (v: string) => (peerMedian === undefined ? '' : v);
  const rows: [string, string, string, string][] = [
    ['', `cvae-repl (${backend}, ${threads} threads)`, single ? 'cvae-repl (1 thread)' : '', peerMedian === undefined ? `PyTorch peer: ${peerMissing}` : `PyTorch CPU (${peerThreads} threads)`],
    ['train samples/s (batch 128)', String(result.train_samples_per_s), single ? String(result.train_samples_per_s_1thread) : '', peerCol(String(round1(peerMedian ?? 0)))],
    ['ms per batch', String(result.train_ms_per_batch), single ? String(round1((BATCH * 1000) / median(oursSingle))) : '', peerCol(String(round1((BATCH * 1000) / (peerMedian ?? 1))))],
    ['CPU ms per batch (all threads)', String(result.train_cpu_ms_per_batch), single ? String(result.train_cpu_ms_per_batch_1thread) : '', ''],
    ['3x3 grid, z -> pixels (median ms)', String(result.gen9_ms), '', peerCol(String(result.peer_torch_gen9_ms))],
    ['start-up to prompt (ms)', typeof startup === 'string' ? `n/a (${startup})` : `${Math.round(startup.ms)} (${startup.via})`, '', ''],
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(`${r[0].padEnd(widths[0]!)}  ${r[1].padStart(widths[1]!)}  ${r[2].padStart(widths[2]!)}  ${r[3]}`);
  if (peerMedian !== undefined) console.log(`ratio ours / peer: ${round2(oursMedian / peerMedian)} (per round: ${pairRatios.map(round2).join(', ')})`);
  console.log(`load average (1 min) before/after: ${round2(loadBefore)} / ${round2(os.loadavg()[0]!)}`);
}
