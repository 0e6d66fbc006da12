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
 * A tiny checkpoint trained by this process (once): for tests that must not depend on what the
 * shipped checkpoint holds, or on it being rewritten by a training run while they read it.
 */
export function tinyCheckpoint(): string {
  if (tiny !== undefined) return tiny;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-real-ck-'));
  const trained = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.tsx', 'train', '--epochs', '1', '--limit', '256', '--seed', '1', '--threads', '1', '--checkpoint', dir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CVAE_REPL_CONFIG_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-real-cfg-')) },
  });
  assert.equal(trained.status, 0, trained.stderr);
  // --threads reaches the trainer (and one thread makes this checkpoint the same on any machine).
  assert.match(trained.stdout + trained.stderr, /training on 1 thread\b/);
  tiny = dir;
  return dir;
}
