/**
 * Interrupted training (issue 7): `cvae-repl train` stopped by SIGINT, SIGTERM and SIGKILL at random
 * moments, resumed each time. tools/kill-loop.ts does the work and the checks; here a few runs
 * (one of each signal), HARDENING_FULL=1 for 24.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runKillLoop } from '../tools/kill-loop.js';

const full = process.env.HARDENING_FULL === '1';

test(`train stopped by signals ${full ? '24' : '3'} times: clean stops, the last complete checkpoint always loads and samples, --resume continues the loss curve exactly`, async () => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-hardening-kill-'));
  const seed = Number(process.env.HARDENING_SEED ?? Date.now() % 1000);
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
  assert.deepEqual(report.problems, [], `HARDENING_SEED=${seed} repeats this schedule`);
  assert.equal(new Set(report.runs.map((r) => r.signal)).size, 3);
  assert.ok(report.finalEpochs >= 1 && report.losses.length === report.finalEpochs);
  fs.rmSync(workDir, { recursive: true, force: true });
});
