/**
 * Interrupted-training torture: runs `cvae-repl train` on a tiny subset again and again, resuming the
 * same checkpoint, and stops each run with SIGINT, SIGTERM or SIGKILL at a random moment. After every
 * run it checks what a user relies on:
 *
 *  - SIGINT / SIGTERM stop cleanly: exit 130 / 143 with a "stopped" line (or 0 if the run had finished),
 *    and never a stack trace; SIGKILL just dies.
 *  - The last complete checkpoint is intact: meta.json's history matches its epoch count, no epoch is
 *    lost, the settings file still parses, and the checkpoint loads and samples (a PNG is written)
 *    without its files changing.
 *  - At the end, one more `--resume` run finishes, and the whole loss history (epoch by epoch) equals
 *    that of one uninterrupted run with the same seed: resuming restores weights, BatchNorm statistics,
 *    Adam's state and the data order, so the loss curve continues instead of jumping.
 *
 *   node --import tsx tools/kill-loop.ts [--runs 24] [--seed 1] [--keep]
 *
 * The test (test/hardening-interrupt.test.ts) runs a few iterations; HARDENING_FULL=1 runs this size.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGKILL';

export interface KillLoopOptions {
  runs: number;
  /** Seeds the schedule (signals, delays) and the training run. */
  seed: number;
  workDir: string;
  limit: number;
  batchSize: number;
  /** Epochs each run asks for (on top of those already trained). */
  epochsPerRun: number;
  /** Longest random extra delay after the chosen moment, ms. */
  maxDelayMs: number;
  log?: (line: string) => void;
}

/** When a signal is sent: after a line of the run's output (or its start), plus a random delay. */
export interface Moment {
  after: 'start' | 'loading data' | 'an epoch was saved' | 'evaluating' | 'fitting the density';
  delayMs: number;
}

const MOMENTS: ReadonlyArray<{ after: Moment['after']; line?: RegExp; maxDelayMs?: number }> = [
  { after: 'start' },
  { after: 'loading data', line: /^loading MNIST$/m },
  { after: 'an epoch was saved', line: /^epoch \d+\/\d+ .* saved /m },
  // Short delays: evaluation, the save and the density fit take a fraction of a second on a tiny run.
  { after: 'evaluating', line: /^epoch \d+: evaluating/m, maxDelayMs: 400 },
  { after: 'fitting the density', line: /^fitting the latent density/m, maxDelayMs: 300 },
];

export interface RunReport {
  run: number;
  signal: StopSignal;
  moment: Moment;
  /** The last line the run printed before the signal: where it landed. */
  landedAfter: string;
  exit: string;
  epochsBefore: number;
  epochsAfter: number;
  problems: string[];
}

export interface KillLoopReport {
  runs: RunReport[];
  finalEpochs: number;
  /** Epoch-by-epoch loss of the interrupted checkpoint and of the uninterrupted reference. */
  losses: Array<{ epoch: number; resumed: number; reference: number }>;
  problems: string[];
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A seeded PRNG (mulberry32): the same --seed gives the same schedule. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts the bin from source (as the other end-to-end tests do), with private settings and data dirs. */
function startBin(args: string[], workDir: string): { child: ReturnType<typeof spawn>; done: Promise<Finished>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli.tsx'), ...args], {
    cwd: ROOT,
    env: { ...process.env, CVAE_REPL_CONFIG_DIR: path.join(workDir, 'config'), CVAE_REPL_DATA_DIR: path.join(workDir, 'data'), CVAE_REPL_FAKE_GENERATOR: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Finished>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, output: () => stdout };
}

/** sha256 of every file under `dir`, by relative path. */
export function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (at: string): void => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.set(path.relative(dir, full), createHash('sha256').update(fs.readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

interface MetaView {
  epochsTrained: number;
  history: Array<{ epoch: number; loss: number }>;
  prior: unknown;
}

/** The checkpoint a load would open: `<dir>`, or `<dir>.previous` left by a save killed mid-swap. */
function liveCheckpoint(dir: string): string | undefined {
  if (fs.existsSync(path.join(dir, 'meta.json'))) return dir;
  if (!fs.existsSync(dir) && fs.existsSync(path.join(`${dir}.previous`, 'meta.json'))) return `${dir}.previous`;
  return undefined;
}

function readMeta(dir: string): MetaView {
  return JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as MetaView;
}

const STACK_FRAME = /^\s+at .+[:(]/m;

/** Loads the checkpoint, samples a PNG in this process, and checks the files did not change. */
async function checkLoadsAndSamples(checkpoint: string, live: string, pngPath: string): Promise<string[]> {
  const problems: string[] = [];
  const before = hashTree(live);
  const { runSampleCommand } = await import('../src/commands/sample.js');
  let out = '';
  let err = '';
  const io = { stdout: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream, stderr: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream };
  fs.rmSync(pngPath, { force: true });
  const code = await runSampleCommand({ digit: 3, count: 4, pad: 2, sampler: 'fitted', scale: 1, seed: 1, checkpointDir: checkpoint, out: pngPath, backend: 'auto' }, io);
  if (code !== 0) problems.push(`sample exited ${code}: ${err.trim()}`);
  else {
    const png = fs.readFileSync(pngPath);
    if (png.subarray(1, 4).toString() !== 'PNG' || png.readUInt32BE(16) !== 58 || png.readUInt32BE(20) !== 58) problems.push('sample wrote no 58x58 PNG');
  }
  // A load may move `<dir>.previous` back to `<dir>`; the files themselves must be the same.
  const after = hashTree(checkpoint);
  for (const [file, hash] of before) if (after.get(file) !== hash) problems.push(`loading and sampling changed ${file}`);
  return problems;
}

function settingsProblems(workDir: string): string[] {
  const file = path.join(workDir, 'config', 'settings.json');
  if (!fs.existsSync(file)) return [];
  try {
    JSON.parse(fs.readFileSync(file, 'utf8'));
    return [];
  } catch (error) {
    return [`settings file no longer parses: ${(error as Error).message}`];
  }
}

function metaProblems(meta: MetaView): string[] {
  const problems: string[] = [];
  if (meta.history.length !== meta.epochsTrained) problems.push(`history has ${meta.history.length} rows for ${meta.epochsTrained} epochs`);
  meta.history.forEach((row, i) => {
    if (row.epoch !== i + 1) problems.push(`history row ${i} is epoch ${row.epoch}`);
  });
  return problems;
}

function trainArgs(options: KillLoopOptions, checkpoint: string, epochs: number, resume: boolean): string[] {
  const args = ['train', '--epochs', String(epochs), '--checkpoint', checkpoint];
  // A resumed run takes its recipe from the checkpoint; a fresh one gets it here.
  if (!resume) args.push('--limit', String(options.limit), '--batch-size', String(options.batchSize), '--seed', String(options.seed));
  else args.push('--resume');
  return args;
}

/** One interrupted run and its checks. */
async function interruptedRun(options: KillLoopOptions, run: number, signal: StopSignal, moment: Moment, checkpoint: string): Promise<RunReport> {
  const liveBefore = liveCheckpoint(checkpoint);
  const epochsBefore = liveBefore === undefined ? 0 : readMeta(liveBefore).epochsTrained;
  const started = startBin(trainArgs(options, checkpoint, options.epochsPerRun, liveBefore !== undefined), options.workDir);
  const line = MOMENTS.find((m) => m.after === moment.after)?.line;
  const running = () => started.child.exitCode === null && started.child.signalCode === null;
  while (line !== undefined && running() && !line.test(started.output())) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, moment.delayMs));
  const printed = started.output().trimEnd().split('\n');
  const landedAfter = printed.at(-1) ?? '';
  const wasRunning = started.child.exitCode === null && started.child.signalCode === null;
  if (wasRunning) started.child.kill(signal);
  const finished = await started.done;
  const problems: string[] = [];
  // The shell's convention, 128 + the signal's number.
  const stopCode = signal === 'SIGTERM' ? 143 : 130;
  const all = finished.stdout + finished.stderr;
  if (STACK_FRAME.test(all)) problems.push(`stack trace in the output:\n${all}`);
  const exit = finished.signal ?? `exit ${finished.code}`;
  if (finished.code === 0) {
    if (!/^done: /m.test(finished.stdout)) problems.push('exit 0 without a "done" line');
  } else if (signal === 'SIGKILL') {
    if (finished.signal !== 'SIGKILL') problems.push(`SIGKILL run ended with ${exit}`);
  } else if (finished.code === stopCode) {
    const stopped = /^stopped(;| before the first epoch)/m.test(finished.stdout) || /^stopped by SIG[A-Z]+ before training began; nothing was written$/m.test(finished.stderr);
    if (!stopped) problems.push(`exit ${stopCode} without a "stopped" line:\n${all}`);
  } else if (finished.signal === signal && finished.stdout === '' && finished.stderr === '') {
    // Delivered before Node ran any of the bin's code (it answers from its first line on): nothing had begun.
  } else {
    problems.push(`${signal} ended the run with ${exit}, expected ${stopCode} with a "stopped" line:\n${all}`);
  }
  problems.push(...settingsProblems(options.workDir));

  const live = liveCheckpoint(checkpoint);
  let epochsAfter = 0;
  if (live === undefined) {
    if (epochsBefore > 0) problems.push(`the checkpoint (${epochsBefore} epochs) is gone`);
  } else {
    const meta = readMeta(live);
    epochsAfter = meta.epochsTrained;
    if (epochsAfter < epochsBefore) problems.push(`epochs went from ${epochsBefore} to ${epochsAfter}`);
    problems.push(...metaProblems(meta));
    problems.push(...(await checkLoadsAndSamples(checkpoint, live, path.join(options.workDir, `sample-${run}.png`))));
  }
  if (!wasRunning && finished.code !== 0) problems.push(`the run ended (${exit}) before the signal was sent`);
  return { run, signal, moment, landedAfter: wasRunning ? landedAfter : '(finished before the signal)', exit, epochsBefore, epochsAfter, problems };
}

/**
 * Which signal each run gets and when: a function of the seed alone, so a failing seed replays the
 * same schedule. Each signal equally often: every block of three runs is the three signals in a random order.
 */
export function killSchedule(seed: number, runs: number, maxDelayMs: number): Array<{ signal: StopSignal; moment: Moment }> {
  const random = prng(seed);
  const signals: StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
  const schedule: StopSignal[] = [];
  while (schedule.length < runs) {
    const block = [...signals];
    for (let i = block.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [block[i], block[j]] = [block[j]!, block[i]!];
    }
    schedule.push(...block);
  }
  return schedule.slice(0, runs).map((signal) => {
    const pick = MOMENTS[Math.floor(random() * MOMENTS.length)]!;
    return { signal, moment: { after: pick.after, delayMs: Math.round(random() * (pick.maxDelayMs ?? maxDelayMs)) } };
  });
}

/** Runs the loop; every check that failed is listed in the report's `problems` (and per run). */
export async function runKillLoop(options: KillLoopOptions): Promise<KillLoopReport> {
  const log = options.log ?? (() => undefined);
  const checkpoint = path.join(options.workDir, 'ck');
  const runs: RunReport[] = [];
  for (const [i, { signal, moment }] of killSchedule(options.seed, options.runs, options.maxDelayMs).entries()) {
    const run = i + 1;
    const report = await interruptedRun(options, run, signal, moment, checkpoint);
    runs.push(report);
    log(`run ${run}: ${signal} ${moment.delayMs} ms after ${moment.after} (last line "${report.landedAfter}") -> ${report.exit}; epochs ${report.epochsBefore} -> ${report.epochsAfter}${report.problems.length ? `; PROBLEMS: ${report.problems.join(' | ')}` : '; ok'}`);
  }

  // Finish the run, then compare its loss curve with one uninterrupted run of as many epochs.
  const problems = runs.flatMap((r) => r.problems.map((p) => `run ${r.run} (${r.signal}): ${p}`));
  const resume = liveCheckpoint(checkpoint) !== undefined;
  const final = await startBin(trainArgs(options, checkpoint, 1, resume), options.workDir).done;
  if (final.code !== 0) problems.push(`the final run exited ${final.code ?? final.signal}: ${final.stderr.trim()}`);
  const meta = readMeta(checkpoint);
  problems.push(...metaProblems(meta));
  if (meta.prior === null) problems.push('the finished checkpoint has no fitted latent density');
  for (const entry of fs.readdirSync(options.workDir)) {
    if (entry.startsWith('ck.partial-') || entry === 'ck.previous') problems.push(`left behind after a clean save: ${entry}`);
  }
  const referenceDir = path.join(options.workDir, 'reference');
  const reference = await startBin(trainArgs(options, referenceDir, meta.epochsTrained, false), options.workDir).done;
  if (reference.code !== 0) problems.push(`the reference run exited ${reference.code ?? reference.signal}: ${reference.stderr.trim()}`);
  const referenceMeta = readMeta(referenceDir);
  const losses = meta.history.map((row, i) => ({ epoch: row.epoch, resumed: row.loss, reference: referenceMeta.history[i]?.loss ?? Number.NaN }));
  for (const { epoch, resumed, reference: ref } of losses) {
    // Same weights, Adam state, data order and noise: the same numbers, up to float summation order.
    if (!(Math.abs(resumed - ref) <= 1e-5 * Math.abs(ref))) problems.push(`epoch ${epoch}: loss ${resumed} after interruptions, ${ref} uninterrupted`);
  }
  log(`final: ${meta.epochsTrained} epochs; loss per epoch, interrupted vs uninterrupted: ${losses.map((l) => `${l.resumed.toFixed(6)}/${l.reference.toFixed(6)}`).join(' ')}`);
  return { runs, finalEpochs: meta.epochsTrained, losses, problems };
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

async function main(): Promise<void> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-kill-loop-'));
  const started = Date.now();
  const report = await runKillLoop({
    runs: flag('runs', 24),
    seed: flag('seed', 1),
    workDir,
    limit: 128,
    batchSize: 16,
    epochsPerRun: 2,
    maxDelayMs: flag('max-delay', 3000),
    log: (line) => console.log(line),
  });
  const counts = report.runs.reduce<Record<string, number>>((acc, r) => ((acc[`${r.signal} -> ${r.exit}`] = (acc[`${r.signal} -> ${r.exit}`] ?? 0) + 1), acc), {});
  console.log(`${report.runs.length} interrupted runs in ${Math.round((Date.now() - started) / 1000)} s: ${JSON.stringify(counts)}`);
  if (report.problems.length > 0) {
    console.log(`FAILED:\n${report.problems.join('\n')}`);
    process.exitCode = 1;
  } else console.log('all checks passed');
  if (process.argv.includes('--keep')) console.log(`work dir kept: ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
