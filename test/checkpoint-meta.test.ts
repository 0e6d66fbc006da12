/**
 * meta.json is validated at load (issue 13): every field, its type and its range, and the first
 * problem is one line naming the field and the fix, through loadCheckpoint, readCheckpointMeta and
 * `train --resume`. The shipped checkpoint passes (a freshly trained one: train.test.ts reads its own).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '../src/engine/backend.js';
import { checkMeta } from '../src/engine/checkpoint-meta.js';
import { loadCheckpoint, readCheckpointMeta } from '../src/engine/checkpoint.js';
import { CheckpointError } from '../src/engine/errors.js';
import { disposeCvae } from '../src/engine/model.js';
import { SHIPPED_CHECKPOINT } from '../src/config/paths.js';
import { hashTree } from '../tools/kill-loop.js';
import { runBin } from './run-bin.js';

const root = mkdtempSync(path.join(tmpdir(), 'cvae-meta-'));
after(() => rmSync(root, { recursive: true, force: true }));
const STACK_FRAME = /^\s+at .+[:(]/m;
const shipped = (): Record<string, any> => JSON.parse(readFileSync(path.join(SHIPPED_CHECKPOINT, 'meta.json'), 'utf8')) as Record<string, any>;

/** A copy of the shipped checkpoint with meta.json edited by `change`. */
function edited(name: string, change: (meta: Record<string, any>) => void): string {
  const dir = path.join(root, name);
  cpSync(SHIPPED_CHECKPOINT, dir, { recursive: true });
  const meta = shipped();
  change(meta);
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  return dir;
}

const CASES: Array<[string, (m: Record<string, any>) => void, string]> = [
  ['missing data', (m) => delete m.data, 'data: missing (expected an object)'],
  ['data without source', (m) => delete m.data.source, 'data.source: missing (expected a string)'],
  ['missing training', (m) => delete m.training, 'training: missing (expected an object)'],
  ['a wrong type', (m) => (m.training.batchSize = '128'), 'training.batchSize: expected a number, got "128"'],
  ['a fraction for a count', (m) => (m.epochsTrained = 2.5), 'epochsTrained: expected a whole number, got 2.5'],
  ['out of range: a negative learning rate', (m) => (m.training.learningRate = -0.001), 'training.learningRate: must be > 0, got -0.001'],
  ['out of range: limit 0', (m) => (m.training.limit = 0), 'training.limit: must be >= 1, got 0'],
  ['out of range: Adam beta2 = 1', (m) => (m.training.adam.beta2 = 1), 'training.adam.beta2: must be < 1, got 1'],
  ['a NaN loss (JSON null) in the history', (m) => (m.history[2].loss = null), 'history[2].loss: expected a number, got null'],
  ['a history that is not a list', (m) => (m.history = {}), 'history: expected a list, got an object'],
  ['an empty fingerprint', (m) => (m.data.fingerprint = ''), 'data.fingerprint: must not be empty'],
  ['an optimizer file of another name', (m) => (m.optimizer.file = '../x.bin'), 'optimizer.file: must be "optimizer.bin", got "../x.bin"'],
  ['a zero in a variable shape', (m) => (m.optimizer.variables[3].shape = [0]), 'optimizer.variables[3].shape[0]: must be >= 1, got 0'],
];

describe('checkMeta', () => {
  test('accepts the shipped checkpoint, with and without the optional fields', () => {
    assert.deepEqual(checkMeta(shipped()).ok, true);
    const m = shipped();
    delete m.finish;
    delete m.optimizer;
    m.prior = null;
    assert.equal(checkMeta(m).ok, true);
  });

  for (const [what, change, problem] of CASES) {
    test(`${what}: ${problem}`, () => {
      const m = shipped();
      change(m);
      assert.deepEqual(checkMeta(m), { ok: false, problem });
    });
  }
});

describe('at load', () => {
  before(async () => void (await initBackend('wasm')));

  test('the shipped checkpoint loads', async () => {
    const loaded = await loadCheckpoint(SHIPPED_CHECKPOINT);
    assert.equal(loaded.meta.epochsTrained, 30);
    disposeCvae(loaded);
  });

  test('loadCheckpoint and readCheckpointMeta answer each bad meta.json with one line naming the field and the fix', async () => {
    for (const [what, change, problem] of CASES) {
      const dir = edited(what.replace(/\W+/g, '-'), change);
      const expected = `${path.join(dir, 'meta.json')}: ${problem}; retrain or restore the checkpoint`;
      for (const load of [() => loadCheckpoint(dir), () => readCheckpointMeta(dir)]) {
        await assert.rejects(load(), (e: unknown) => e instanceof CheckpointError && e.message === expected, what);
      }
    }
  });

  test('through the bin: train --resume without `training`, sample without `data`: one line, exit 1, the checkpoint untouched', async () => {
    const noTraining = edited('bin-no-training', (m) => delete m.training);
    const noData = edited('bin-no-data', (m) => delete m.data);
    const hashes = hashTree(noTraining);
    const env = { CVAE_REPL_CONFIG_DIR: path.join(root, 'config'), CVAE_REPL_DATA_DIR: path.join(root, 'data') };
    const [resume, sample] = await Promise.all([
      runBin(['train', '--resume', '--epochs', '1', '--checkpoint', noTraining], env),
      runBin(['sample', '3', '--checkpoint', noData, '--out', path.join(root, 'x.png')], env),
    ]);
    for (const [r, dir, problem] of [[resume, noTraining, 'training: missing (expected an object)'], [sample, noData, 'data: missing (expected an object)']] as const) {
      assert.equal(r.code, 1, r.out + r.err);
      assert.deepEqual(r.err.trim().split('\n').filter((l) => !l.startsWith('note: ')), [`error: ${path.join(dir, 'meta.json')}: ${problem}; retrain or restore the checkpoint`]);
      assert.ok(!STACK_FRAME.test(r.err) && !/Cannot read properties/.test(r.err), r.err);
    }
    assert.deepEqual(hashTree(noTraining), hashes);
  });
});
