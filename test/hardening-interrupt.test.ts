/**
 * Interrupted training (issue 7): `cvae-repl train` stopped by SIGINT, SIGTERM and SIGKILL at random
 * moments, resumed each time. tools/kill-loop.ts does the work and the checks; here a few runs
 * (one of each signal), HARDENING_FULL=1 for 24.
 *
 * The schedule (signals, moments, delays) comes from HARDENING_SEED; without it a fresh seed is
 * drawn, printed at the start and in every failure, so `HARDENING_SEED=<n>` replays a failing run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killSchedule, runKillLoop } from '../tools/kill-loop.js';

const full = process.env.HARDENING_FULL === '1';

/** HARDENING_SEED when set (a whole number), else a fresh one. */
export function hardeningSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.HARDENING_SEED;
  if (given === undefined || given === '') return Math.floor(Math.random() * 1_000_000);
  const seed = Number(given);
  if (!Number.isInteger(seed)) throw new Error(`HARDENING_SEED must be a whole number, got ${given}`);
  return seed;
}

test('HARDENING_SEED fixes the kill schedule: the same seed gives the same signals, moments and delays', () => {
  assert.equal(hardeningSeed({ HARDENING_SEED: '417' }), 417);
  assert.throws(() => hardeningSeed({ HARDENING_SEED: 'abc' }), /HARDENING_SEED must be a whole number, got abc/);
  assert.deepEqual(killSchedule(417, 6, 1500), killSchedule(417, 6, 1500));
  const seeds = [1, 2, 3, 4, 5].map((seed) => JSON.stringify(killSchedule(seed, 6, 1500)));
  assert.ok(new Set(seeds).size > 1, 'different seeds give different schedules');
  for (const seed of [1, 2, 3]) assert.deepEqual(new Set(killSchedule(seed, 3, 1500).map((r) => r.signal)), new Set(['SIGINT', 'SIGTERM', 'SIGKILL']));
});

test(`train stopped by signals ${full ? '24' : '3'} times: clean stops, the last complete checkpoint always loads and samples, --resume continues the loss curve exactly`, async () => {
  const seed = hardeningSeed();
  const replay = `replay with HARDENING_SEED=${seed}`;
  process.stderr.write(`hardening-interrupt: seed ${seed} (${replay})\n`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-hardening-kill-'));
  try {
    const report = await runKillLoop({
      runs: full ? 24 : 3,
      seed,
      workDir,
      limit: 128,
      batchSize: 16,
      epochsPerRun: 2,
      maxDelayMs: 1500,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    assert.deepEqual(report.problems, [], replay);
    assert.equal(new Set(report.runs.map((r) => r.signal)).size, 3, replay);
    assert.ok(report.finalEpochs >= 1 && report.losses.length === report.finalEpochs, replay);
  } catch (error) {
    if (error instanceof Error && !error.message.includes(replay)) error.message += ` (${replay})`;
    throw error;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
});
