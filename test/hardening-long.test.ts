/**
 * Long sessions (issue 7): hundreds of prompts in line mode on a real (tiny) checkpoint keep the tfjs
 * tensor count constant and the memory bounded. tools/long-session.ts does the work; here 300 prompts,
 * HARDENING_FULL=1 for 10,000 (measured: 44 tensors throughout, RSS 160 -> 184 MB, flat after ~2,000).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { runLongSession, trainTinyCheckpoint } from '../tools/long-session.js';

const full = process.env.HARDENING_FULL === '1';
const generations = full ? 10_000 : 300;

test(`${generations} prompts in line mode: the same tensors after the last draw as after the first, none after the model is released, bounded RSS`, async () => {
  const checkpoint = trainTinyCheckpoint();
  try {
    const report = await runLongSession({ checkpoint, generations });
    process.stderr.write(`${JSON.stringify(report)}\n`);
    assert.equal(report.exitCode, 0);
    assert.equal(report.generations, generations);
    assert.equal(report.errors, Math.floor(generations / 7), 'every 7th line was not a number');
    assert.equal(report.afterLast.tensors, report.afterFirst.tensors, 'no tensor leaks per prompt');
    assert.equal(report.afterDispose.tensors, report.beforeLoad.tensors, 'releasing the model frees all of its tensors');
    // A leak of one grid's pixels per prompt (9 x 784 floats) would add ~280 MB over 10,000 prompts.
    assert.ok(report.afterLast.rssMB - report.afterFirst.rssMB < 100, `RSS grew from ${report.afterFirst.rssMB} to ${report.afterLast.rssMB} MB`);
  } finally {
    fs.rmSync(checkpoint, { recursive: true, force: true });
  }
});
