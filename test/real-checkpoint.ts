/**
 * A real checkpoint for end-to-end tests: the shipped one when it exists, else a tiny one trained
 * here (1 epoch on 256 images, ~10 s) that draws gray blobs rather than digits.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface RealCheckpoint {
  dir: string;
  /** True for the shipped checkpoint, which draws recognisable digits. */
  shipped: boolean;
}

export function realCheckpoint(): RealCheckpoint {
  const shipped = path.join(root, 'checkpoints', 'cvae');
  if (fs.existsSync(path.join(shipped, 'meta.json'))) return { dir: shipped, shipped: true };
  return { dir: tinyCheckpoint(), shipped: false };
}

let tiny: string | undefined;

/**
 * A tiny checkpoint (1 epoch on 256 images, one thread, seed 1) for tests that must not depend on what
 * the shipped checkpoint holds, or on it being rewritten while they read it. Built once per test run,
 * not once per test file: it is cached in the temp directory under a hash of the code that makes it
 * (src/, package-lock.json), so every test process of a run, and later runs of the same code, share it.
 * Tests only read it; the first process to need it trains it, the others wait for it.
 */
export function tinyCheckpoint(): string {
  if (tiny !== undefined) return tiny;
  const dir = path.join(os.tmpdir(), `cvae-test-fixture-${sourceHash()}`);
  const lock = `${dir}.lock`;
  for (let waited = 0; !fs.existsSync(path.join(dir, 'meta.json')); waited += 200) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(lock, 'wx');
    } catch {
      // Another test process is training it (or died doing so: its lock goes stale after 3 min).
      if (waited > 180_000) fs.rmSync(lock, { force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      continue;
    }
    try {
      if (!fs.existsSync(path.join(dir, 'meta.json'))) train(dir);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
  }
  tiny = dir;
  return dir;
}

function train(dir: string): void {
  const temp = fs.mkdtempSync(`${dir}.partial-`);
  const trained = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.tsx', 'train', '--epochs', '1', '--limit', '256', '--seed', '1', '--threads', '1', '--checkpoint', temp], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CVAE_REPL_CONFIG_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-real-cfg-')) },
  });
  assert.equal(trained.status, 0, trained.stderr);
  // --threads reaches the trainer (and one thread makes this checkpoint the same on any machine).
  assert.match(trained.stdout + trained.stderr, /training on 1 thread\b/);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(temp, dir);
}

/** A hash of everything that decides what the fixture holds. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|tsx|js|wasm)$/.test(entry.name)) hash.update(full.slice(root.length)).update(fs.readFileSync(full));
    }
  };
  walk(path.join(root, 'src'));
  hash.update(fs.readFileSync(path.join(root, 'package-lock.json')));
  return hash.digest('hex').slice(0, 16);
}
