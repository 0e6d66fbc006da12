/**
 * A long REPL session in line mode on a real checkpoint: N prompts (digits, with a bad line now and
 * then), then an out-of-range integer. Measures tfjs tensors and the process RSS after the first
 * draw, after the last one, and after the model is released, so a leak of a tensor per prompt, or of
 * the grids' pixels, shows.
 *
 *   node --import tsx tools/long-session.ts [--generations 10000] [--checkpoint DIR]
 *
 * Without --checkpoint it trains a tiny one (1 epoch on 256 images) in a temp directory.
 * The test (test/hardening-long.test.ts) runs 300 prompts; HARDENING_FULL=1 runs 10,000.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import type { DigitGenerator } from '../src/engine/types.js';
import { loadReplModel, type ReplModel } from '../src/explore/model.js';
import { runLineMode } from '../src/repl/line-mode.js';
import type { RenderMode } from '../src/render/terminal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface MemoryPoint {
  tensors: number;
  rssMB: number;
  heapMB: number;
  /** ArrayBuffers outside the JS heap (decoded pixels, PNGs, the wasm backend's memory). */
  externalMB: number;
}

export interface LongSessionReport {
  generations: number;
  errors: number;
  exitCode: number;
  /** Printed bytes of the session (discarded as they come, so the test does not hold them). */
  outputMB: number;
  beforeLoad: MemoryPoint;
  afterFirst: MemoryPoint;
  afterLast: MemoryPoint;
  afterDispose: MemoryPoint;
  seconds: number;
}

function memory(): MemoryPoint {
  global.gc?.();
  const usage = process.memoryUsage();
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  return { tensors: tf.memory().numTensors, rssMB: mb(usage.rss), heapMB: mb(usage.heapUsed), externalMB: mb(usage.external) };
}

/** Runs `generations` prompts through line mode on `checkpoint`; every 7th line before the end is not a number. */
export async function runLongSession(options: { checkpoint: string; generations: number; grid?: number; render?: RenderMode; trace?: (generations: number, point: MemoryPoint) => void }): Promise<LongSessionReport> {
  await initBackend('auto');
  const beforeLoad = memory();
  let generations = 0;
  let afterFirst: MemoryPoint | undefined;
  let afterLast: MemoryPoint | undefined;
  const loadGenerator = async (dir: string): Promise<ReplModel> => {
    const model = await loadReplModel(dir, 'auto');
    // Measure around the real generate: after the first call (warm) and after the last, model alive.
    return new Proxy(model, {
      get(target, property, receiver) {
        if (property !== 'generate') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<DigitGenerator['generate']>) => {
          const images = await target.generate(...args);
          generations++;
          if (generations === 1) afterFirst = memory();
          if (generations === options.generations) afterLast = memory();
          if (options.trace !== undefined && generations % 1000 === 0) options.trace(generations, memory());
          return images;
        };
      },
    });
  };
  let bytes = 0;
  let errors = 0;
  const stdout = { write: (text: string) => ((bytes += text.length), true) };
  const stderr = { write: (text: string) => ((bytes += text.length), text.startsWith('error: ') && errors++, true) };
  const input = new PassThrough();
  const started = performance.now();
  const running = runLineMode({
    services: { loadGenerator },
    checkpointDir: options.checkpoint,
    input,
    stdout,
    stderr,
    render: options.render ?? 'blocks',
    columns: 200,
    grid: options.grid ?? 3,
    sampler: 'fitted',
    scale: 1,
    backendChoice: 'auto',
    version: 'long-session',
  });
  for (let i = 0; i < options.generations; i++) {
    if (i % 7 === 6) input.write('not a digit\n');
    input.write(`${i % 10}\n`);
  }
  input.end('-1\n');
  const exitCode = await running;
  const afterDispose = memory();
  if (afterFirst === undefined || afterLast === undefined) throw new Error(`only ${generations} of ${options.generations} generations ran`);
  return { generations, errors, exitCode, outputMB: Math.round(bytes / 2 ** 20), beforeLoad, afterFirst, afterLast, afterDispose, seconds: (performance.now() - started) / 1000 };
}

/** A tiny real checkpoint for the session (gray blobs, not digits: the memory is what matters). */
export function trainTinyCheckpoint(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-long-session-ck-'));
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-long-session-cfg-'));
  const trained = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.tsx', 'train', '--epochs', '1', '--limit', '256', '--seed', '1', '--checkpoint', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CVAE_REPL_CONFIG_DIR: config, CVAE_REPL_DATA_DIR: path.join(config, 'data') },
  });
  fs.rmSync(config, { recursive: true, force: true });
  if (trained.status !== 0) throw new Error(`training the tiny checkpoint failed: ${trained.stderr}`);
  return dir;
}

async function main(): Promise<void> {
  const at = (name: string) => process.argv.indexOf(`--${name}`);
  const generations = at('generations') === -1 ? 10_000 : Number(process.argv[at('generations') + 1]);
  const checkpoint = at('checkpoint') === -1 ? trainTinyCheckpoint() : path.resolve(process.argv[at('checkpoint') + 1]!);
  const point = (p: MemoryPoint) => `${p.tensors} tensors, RSS ${p.rssMB} MB, heap ${p.heapMB} MB, external ${p.externalMB} MB`;
  const report = await runLongSession({ checkpoint, generations, trace: (n, p) => console.log(`after ${n}: ${point(p)}`) });
  console.log(`${report.generations} generations (3x3 grids, blocks) + ${report.errors} bad lines in ${report.seconds.toFixed(0)} s, ${report.outputMB} MB printed, exit ${report.exitCode}`);
  console.log(`before load:   ${point(report.beforeLoad)}`);
  console.log(`after first:   ${point(report.afterFirst)}`);
  console.log(`after last:    ${point(report.afterLast)}`);
  console.log(`after dispose: ${point(report.afterDispose)}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
