/**
 * TerminateOnNaN (issue 13): a diverging run stops at the first non-finite loss, leaves the last good
 * checkpoint as it was (or writes none), and says in one line what happened and what to try.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '../src/engine/backend.js';
import { TrainingDivergedError } from '../src/engine/errors.js';
import { trainCheckpoint } from '../src/engine/train.js';
import { DEFAULT_TRAIN_OPTIONS, type BatchReport } from '../src/engine/types.js';
import { hashTree } from '../tools/kill-loop.js';
import { runBin } from './run-bin.js';

const root = mkdtempSync(path.join(tmpdir(), 'cvae-nan-'));
after(() => rmSync(root, { recursive: true, force: true }));
before(async () => void (await initBackend('wasm')));
const STACK_FRAME = /^\s+at .+[:(]/m;
const options = (dir: string) => ({ ...DEFAULT_TRAIN_OPTIONS, epochs: 1, batchSize: 64, limit: 128, seed: 3, checkpointDir: dir, backend: 'wasm' as const });

test('a run that diverges on resume stops at the first NaN loss and leaves the last good checkpoint byte for byte', async () => {
  const dir = path.join(root, 'resume');
  await trainCheckpoint(options(dir), {}, { testLimit: 64 });
  const before = hashTree(dir);
  const batches: BatchReport[] = [];
  await assert.rejects(
    trainCheckpoint({ ...options(dir), resume: true, epochs: 3, learningRate: 1e9 }, { onBatchEnd: (r) => void batches.push(r) }, { testLimit: 64 }),
    (e: unknown) =>
      e instanceof TrainingDivergedError &&
      /^training diverged: the loss became NaN at epoch 2, batch \d+ \(learning rate 1000000000\); the checkpoint in .* keeps its last good epoch \(1\); try a lower --learning-rate/.test(e.message) &&
      !e.message.includes('\n'),
  );
  assert.ok(batches.every((b) => Number.isFinite(b.loss)), 'no NaN batch is reported as progress');
  assert.ok(batches.length < 3 * 2, 'stopped at once, not after the epochs asked for');
  assert.deepEqual(hashTree(dir), before);
  assert.equal(existsSync(`${dir}.lock`), false);
});

test('a fresh run that diverges writes no checkpoint', async () => {
  const dir = path.join(root, 'fresh');
  await assert.rejects(trainCheckpoint({ ...options(dir), learningRate: 1e9 }, {}, { testLimit: 64 }), /^TrainingDivergedError: training diverged: the loss became NaN at epoch 1, batch 2 .*; no checkpoint was written; try a lower --learning-rate/);
  assert.equal(existsSync(dir), false);
});

test('through the bin: train --lr 1e9 --epochs 1 --limit 256 prints one error line and exits 1', async () => {
  const dir = path.join(root, 'bin', 'ck');
  const r = await runBin(['train', '--lr', '1e9', '--epochs', '1', '--limit', '256', '--checkpoint', dir], {
    CVAE_REPL_CONFIG_DIR: path.join(root, 'bin', 'config'),
    CVAE_REPL_DATA_DIR: path.join(root, 'bin', 'data'),
  });
  assert.equal(r.code, 1, r.out + r.err);
  assert.deepEqual(
    r.err.trim().split('\n'),
    [`error: training diverged: the loss became NaN at epoch 1, batch 2 (learning rate 1000000000); no checkpoint was written; try a lower --learning-rate (the notebook's is 0.0005)`],
  );
  assert.ok(!/Cannot set properties|NaN \(recon/.test(r.out + r.err), r.out + r.err);
  assert.ok(!STACK_FRAME.test(r.out + r.err));
  assert.ok(!/^done:/m.test(r.out));
  assert.equal(existsSync(dir), false);
});
