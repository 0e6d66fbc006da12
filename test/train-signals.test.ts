/**
 * How `cvae-repl train` ends on a signal (issue 13): the shell's codes (SIGINT 130, SIGTERM 143),
 * and a signal in the first second, while flags, settings and tfjs load, is answered with one line
 * and a clean exit code instead of killing the process without a word.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { stopExitCode } from '../src/commands/train.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'cvae-signals-'));
after(() => rmSync(root, { recursive: true, force: true }));
const STACK_FRAME = /^\s+at .+[:(]/m;

test('a run aborted with reason SIGTERM exits 143, SIGINT (or no reason) 130', () => {
  const stopped = (reason?: string) => {
    const controller = new AbortController();
    controller.abort(reason);
    return stopExitCode(controller.signal);
  };
  assert.equal(stopped('SIGTERM'), 143);
  assert.equal(stopped('SIGINT'), 130);
  assert.equal(stopped(), 130);
});

/**
 * Starts `train` with a preload that says when the app adds its first SIGTERM listener, sends
 * `signal` at that moment (the bin has only just started), and returns how the process ended.
 */
async function signalAtStart(signal: 'SIGINT' | 'SIGTERM', name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string; dir: string }> {
  const dir = path.join(root, name, 'ck');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './test/signal-listener-probe.mjs', 'src/cli.tsx', 'train', '--epochs', '1', '--limit', '64', '--checkpoint', dir],
    { cwd: ROOT, env: { ...process.env, CVAE_REPL_CONFIG_DIR: path.join(root, name, 'config'), CVAE_REPL_DATA_DIR: path.join(root, name, 'data') }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (!sent && err.includes('probe: listening for SIGTERM\n')) {
      sent = true;
      child.kill(signal);
    }
  });
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));
  assert.ok(sent, `the app never listened for SIGTERM:\n${out}${err}`);
  return { ...ended, out, err: err.replace('probe: listening for SIGTERM\n', ''), dir };
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test(`${signal} in the first second of train: one line, exit ${code}, nothing written`, async () => {
    const r = await signalAtStart(signal, signal.toLowerCase());
    assert.equal(r.signal, null, `killed by ${r.signal} without a word`);
    assert.equal(r.code, code, r.out + r.err);
    // Almost always still loading (the first line); on a very slow machine it may have begun training.
    const early = new RegExp(`^stopped by ${signal} before training began; nothing was written$`, 'm');
    assert.ok(early.test(r.err) || /^stopped before the first epoch finished; no checkpoint was written$/m.test(r.out), r.out + r.err);
    assert.ok(!STACK_FRAME.test(r.out + r.err), r.out + r.err);
    assert.equal(existsSync(r.dir), false);
    assert.equal(existsSync(`${r.dir}.lock`), false);
  });
}
