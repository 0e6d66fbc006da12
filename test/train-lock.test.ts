/**
 * One trainer per checkpoint (issue 13): the lock file `<dir>.lock`, its stale case, its release on
 * every exit path, and two real `train` processes into one --checkpoint.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { acquireTrainLock, lockFileOf, pidAlive, TrainLockError } from '../src/engine/train-lock.js';
import { trainCheckpoint } from '../src/engine/train.js';
import { DEFAULT_TRAIN_OPTIONS } from '../src/engine/types.js';
import { runBin } from './run-bin.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'cvae-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
const STACK_FRAME = /^\s+at .+[:(]/m;

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(child.stdout);
  assert.ok(pid > 0 && !pidAlive(pid));
  return pid;
}

describe('the training lock', () => {
  test('taken with our pid, re-entrant within the process, removed when the last claim is released', () => {
    const dir = path.join(root, 'a', 'ck');
    const lock = acquireTrainLock(dir);
    assert.equal(lock.file, `${dir}.lock`);
    assert.equal(readFileSync(lock.file, 'utf8').split('\n')[0], String(process.pid));
    const again = acquireTrainLock(dir);
    again.release();
    assert.ok(existsSync(lock.file), 'still held by the first claim');
    lock.release();
    lock.release();
    assert.equal(existsSync(lock.file), false);
  });

  test('a lock held by a live process is refused in one line naming its pid, and left as it is', async () => {
    const dir = path.join(root, 'b', 'ck');
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const text = `${holder.pid}\nfeedc0de\n`;
      mkdirSync(path.dirname(dir), { recursive: true });
      writeFileSync(lockFileOf(dir), text);
      assert.throws(
        () => acquireTrainLock(dir),
        (e: unknown) => e instanceof TrainLockError && e.holderPid === holder.pid && e.message.includes(`(pid ${holder.pid})`) && !e.message.includes('\n'),
      );
      assert.equal(readFileSync(lockFileOf(dir), 'utf8'), text);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('a stale lock (its process is gone, e.g. killed with SIGKILL) is taken over', () => {
    const dir = path.join(root, 'c', 'ck');
    mkdirSync(path.dirname(dir), { recursive: true });
    writeFileSync(lockFileOf(dir), `${deadPid()}\nfeedc0de\n`);
    const lock = acquireTrainLock(dir);
    assert.equal(readFileSync(lock.file, 'utf8').split('\n')[0], String(process.pid));
    lock.release();
    assert.equal(existsSync(lock.file), false);
  });

  test('a training run that fails releases the lock', async () => {
    const dir = path.join(root, 'd', 'ck');
    const options = { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, limit: 64, checkpointDir: dir, backend: 'wasm' as const, dataDir: path.join(root, 'no-such-data') };
    await assert.rejects(trainCheckpoint(options));
    assert.equal(existsSync(lockFileOf(dir)), false, 'released after an error');
  });
});

describe('two train processes into one --checkpoint', () => {
  test('the second run and a --resume are refused at start naming the first pid; the first, stopped by SIGTERM, exits 143 and frees the lock', async () => {
    const dir = path.join(root, 'race', 'ck');
    const env = { CVAE_REPL_CONFIG_DIR: path.join(root, 'race', 'config'), CVAE_REPL_DATA_DIR: path.join(root, 'race', 'data') };
    const first = spawn(process.execPath, ['--import', 'tsx', 'src/cli.tsx', 'train', '--epochs', '3', '--limit', '256', '--batch-size', '32', '--checkpoint', dir], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    first.stdout.on('data', (d: Buffer) => (out += d.toString()));
    first.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => first.on('close', (code, signal) => resolve({ code, signal })));
    try {
      while (!existsSync(lockFileOf(dir)) && first.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(first.exitCode, null, `the first run ended early:\n${out}`);
      // Paused while it holds the lock, so the refusals below happen while it is certainly mid-run.
      first.kill('SIGSTOP');
      assert.equal(readFileSync(lockFileOf(dir), 'utf8').split('\n')[0], String(first.pid));

      const second = await runBin(['train', '--epochs', '1', '--limit', '64', '--checkpoint', dir], env);
      const resume = await runBin(['train', '--resume', '--epochs', '1', '--checkpoint', dir], env);
      for (const [what, r] of [['train', second], ['train --resume', resume]] as const) {
        assert.equal(r.code, 1, `${what}: ${r.out}${r.err}`);
        const lines = r.err.trim().split('\n').filter((l) => l.startsWith('error:'));
        assert.equal(lines.length, 1, `${what}: ${r.err}`);
        assert.match(lines[0]!, new RegExp(`^error: ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is being trained by another process \\(pid ${first.pid}\\); wait for it to finish or stop it, or pass another --checkpoint`));
        assert.ok(!STACK_FRAME.test(r.err), r.err);
        assert.ok(!/^done:/m.test(r.out), `${what} must not train`);
      }
      assert.equal(readFileSync(lockFileOf(dir), 'utf8').split('\n')[0], String(first.pid), 'the refused runs leave the lock alone');

      first.kill('SIGCONT');
      first.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.equal(signal, null, out);
      assert.equal(code, 143, out);
      assert.match(out, /^stopp/m);
      assert.ok(!STACK_FRAME.test(out), out);
      assert.equal(existsSync(lockFileOf(dir)), false, 'released on SIGTERM');
    } finally {
      first.kill('SIGKILL');
    }
  });
});
