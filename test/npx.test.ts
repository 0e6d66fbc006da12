/**
 * `npm install` then `npx cvae-repl`: the built bin (dist/cli.js, made by `prepare`) must start as a
 * program. tsc writes it without the executable bit, and npx then failed with "Permission denied"
 * while every test that runs the app from source passed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../src/engine/version.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const npx = (args: string[], input = '') =>
  spawnSync('npx', ['--no-install', 'cvae-repl', ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
    env: { ...process.env, CVAE_REPL_CONFIG_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-npx-cfg-')), NO_COLOR: '1' },
  });

test('the built bin is executable and `npx cvae-repl` runs it', () => {
  const bin = path.join(root, 'dist', 'cli.js');
  assert.ok(fs.existsSync(bin), 'dist/cli.js is missing: `npm install` (or `npm run build`) makes it');
  fs.accessSync(bin, fs.constants.X_OK);
  const version = npx(['--version']);
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, new RegExp(VERSION.replaceAll('.', '\\.')));
});

test('`npx cvae-repl` opens the shipped checkpoint, draws a digit, and an out-of-range value ends it', () => {
  const session = npx([], '5\n-1\n');
  assert.equal(session.status, 0, session.stderr);
  assert.match(session.stderr, /checkpoint checkpoints\/cvae \(30 epochs on 60,000 images/);
  assert.match(session.stdout, /input digit to generate/);
});
