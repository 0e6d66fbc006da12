import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { collectiveBuffer } from '../src/engine/parallel/collective.js';

/**
 * Synchronised BatchNorm trusts the all-reduce to hand every part the sums of this call, never a
 * slot that a faster part has already overwritten with the next call's vector. The 1-vs-2-thread
 * training test would see a race only as a small drift in the weights; here parts hammer the
 * all-reduce from real threads (more threads than cores, so that they are descheduled at every
 * point) and check every sum exactly.
 */

const WIDTH = 7;

// Each round's vector is a function of (rank, round), so every part knows the exact sum it must get;
// the values are small integers, so float64 sums are exact in any order.
const WORKER = `
const { workerData, parentPort } = await import('node:worker_threads');
const { register } = await import(workerData.tsx);
register();
const { SharedReducer } = await import(workerData.collective);
const { buffer, rank, ranks, phases, width } = workerData;
const reducer = new SharedReducer(buffer, rank, ranks, width);
const value = (r, round, i) => ((r + 1) * 7919 + round * 31 + i * 3) % 100003;
let mismatches = 0, first = null, spin = rank * 17 + 1, round = 0;
const boundary = new Int32Array(workerData.boundary);
let arrivals = 0;
for (const [parts, rounds] of phases) {
  if (rank >= parts) break;
  // The part count changes only between steps, once every part of the last step has returned (the
  // trainer awaits them all); this shared counter stands in for that wait.
  while (Atomics.load(boundary, 0) < arrivals) Atomics.wait(boundary, 0, Atomics.load(boundary, 0), 10);
  arrivals += parts;
  reducer.forStep(parts);
  for (let end = round + rounds; round < end; round++) {
    const local = new Float64Array(width).map((_, i) => value(rank, round, i));
    // A different amount of work before each call, so that parts arrive in every order.
    spin = (Math.imul(spin, 1103515245) + 12345) >>> 0;
    let sink = 0;
    for (let k = 0; k < spin % 2000; k++) sink += k;
    const total = reducer.allReduce(local);
    for (let i = 0; i < width; i++) {
      let want = 0;
      for (let r = 0; r < parts; r++) want += value(r, round, i);
      if (total[i] !== want && mismatches++ === 0) first = { round, i, got: total[i], want };
    }
    if (sink < 0) break;
  }
  Atomics.add(boundary, 0, 1);
  Atomics.notify(boundary, 0);
}
parentPort.postMessage({ mismatches, first });
`;

/** `phases`: [parts, rounds] in turn; a rank at or past a phase's parts stops there, as in a short last batch. */
function runParts(ranks: number, phases: Array<[number, number]>): Promise<Array<{ mismatches: number; first: unknown }>> {
  const buffer = collectiveBuffer(ranks, WIDTH);
  const url = new URL(`data:text/javascript,${encodeURIComponent(WORKER)}`);
  const common = {
    tsx: import.meta.resolve('tsx/esm/api'),
    collective: new URL('../src/engine/parallel/collective.ts', import.meta.url).href,
    buffer, boundary: new SharedArrayBuffer(4), ranks, phases, width: WIDTH,
  };
  return Promise.all(
    Array.from({ length: ranks }, (_, rank) => new Promise<{ mismatches: number; first: unknown }>((resolve, reject) => {
      const worker = new Worker(url, { workerData: { ...common, rank } });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`part ${rank} exited with ${code} before reporting`)));
    })),
  );
}

describe('shared all-reduce (synchronised BatchNorm across threads)', () => {
  it('gives every part the exact sums of each call, over thousands of back-to-back calls from 3 threads', async () => {
    const results = await runParts(3, [[3, 3000]]);
    results.forEach((r, rank) => assert.equal(r.mismatches, 0, `part ${rank}: ${JSON.stringify(r.first)}`));
  });

  it('after full steps, sums only the parts that hold rows in a short step, not their stale slots', async () => {
    const results = await runParts(3, [[3, 500], [2, 500], [1, 10]]);
    results.forEach((r, rank) => assert.equal(r.mismatches, 0, `part ${rank}: ${JSON.stringify(r.first)}`));
  });
});
