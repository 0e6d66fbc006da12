import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SETTINGS, SettingsError, formatSettings, openSettings, resolveCheckpoint } from '../src/config/settings.js';
import { SHIPPED_CHECKPOINT, defaultTrainDir, userDataDir } from '../src/config/paths.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-settings-'));

test('a fresh store has the defaults; set() persists validated values across opens', () => {
  const dir = tempDir();
  const store = openSettings({ dir });
  assert.deepEqual(store.warnings, []);
  assert.deepEqual(store.get(), DEFAULT_SETTINGS);
  assert.equal(store.path, path.join(dir, 'settings.json'));
  store.set('grid', '4');
  store.set('render', 'blocks');
  store.set('scale', '0.7');
  store.setActiveCheckpoint('relative/ck');
  const again = openSettings({ dir }).get();
  assert.deepEqual(again, { render: 'blocks', sampler: 'fitted', scale: 0.7, grid: 4, checkpoint: path.resolve('relative/ck') });
  assert.throws(() => store.set('grid', '0'), SettingsError);
  assert.throws(() => store.set('render', 'sixel'), /render must be one of auto, kitty, iterm, blocks, ascii/);
  assert.throws(() => store.set('colour', 'red'), /unknown setting colour/);
  store.reset();
  assert.deepEqual(openSettings({ dir }).get(), DEFAULT_SETTINGS);
});

test('the seed is a setting: set from the prompt or `config set seed`, forgotten with unset', () => {
  const dir = tempDir();
  const store = openSettings({ dir });
  store.set('seed', 7);
  assert.equal(openSettings({ dir }).get().seed, 7);
  store.set('seed', '12');
  assert.equal(openSettings({ dir }).get().seed, 12);
  assert.throws(() => store.set('seed', '-1'), /^SettingsError: seed must be a whole number >= 0 \(got -1\)$/);
  assert.throws(() => store.set('seed', 1.5), /seed must be a whole number/);
  assert.match(formatSettings(store), /^seed {7}= 12$/m);
  store.unset('seed');
  assert.equal(openSettings({ dir }).get().seed, undefined);
  assert.match(formatSettings(store), /^seed {7}= \(none: fresh draws\)$/m);
});

test('a corrupt settings file is reset with one warning and kept aside, never a crash', () => {
  const dir = tempDir();
  const file = path.join(dir, 'settings.json');
  fs.writeFileSync(file, '{"render": "kitty", oops');
  const store = openSettings({ dir });
  assert.equal(store.warnings.length, 1);
  assert.match(store.warnings[0]!, /^warning: settings file .*settings\.json was unreadable .*reset to defaults, old file kept as .*settings\.json\.corrupt$/);
  assert.ok(!store.warnings[0]!.includes('\n'));
  assert.deepEqual(store.get(), DEFAULT_SETTINGS);
  assert.equal(fs.readFileSync(`${file}.corrupt`, 'utf8'), '{"render": "kitty", oops');
  store.set('grid', 2);
  assert.equal(openSettings({ dir }).get().grid, 2);
});

test('invalid values in a hand-edited file fall back to defaults, one warning each', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ render: 'sixel', grid: 3, scale: -1, extra: true }));
  const store = openSettings({ dir });
  assert.equal(store.warnings.length, 3);
  assert.deepEqual(store.get(), DEFAULT_SETTINGS);
  assert.deepEqual(openSettings({ dir }).warnings, []); // the bad keys were removed
});

test('the default checkpoint: the flag, else the active one if it exists, else the shipped one (package root, not cwd)', () => {
  assert.equal(SHIPPED_CHECKPOINT, path.join(root, 'checkpoints', 'cvae'));
  assert.deepEqual(resolveCheckpoint('ck', DEFAULT_SETTINGS), { dir: path.resolve('ck'), source: 'flag' });
  assert.deepEqual(resolveCheckpoint(undefined, DEFAULT_SETTINGS), { dir: SHIPPED_CHECKPOINT, source: 'shipped' });
  const withActive = { ...DEFAULT_SETTINGS, checkpoint: '/data/mine' };
  assert.deepEqual(resolveCheckpoint(undefined, withActive, () => true), { dir: '/data/mine', source: 'active' });
  const missing = resolveCheckpoint(undefined, withActive, () => false);
  assert.equal(missing.dir, SHIPPED_CHECKPOINT);
  assert.match(missing.warning ?? '', /active checkpoint \/data\/mine is missing/);
});

test('training writes to the user data dir, never into the package', () => {
  assert.equal(userDataDir({ CVAE_REPL_DATA_DIR: '/x/y' }), '/x/y');
  assert.equal(userDataDir({ XDG_DATA_HOME: '/xdg' }, 'linux'), '/xdg/cvae-repl');
  assert.ok(userDataDir({}, 'darwin').endsWith(path.join('Library', 'Application Support', 'cvae-repl')));
  const dir = defaultTrainDir({});
  assert.ok(!dir.startsWith(root), `${dir} is outside the package`);
});

test('`cvae-repl config`, `config set` and `config reset` through the bin', () => {
  const dir = tempDir();
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.tsx', 'config', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CVAE_REPL_CONFIG_DIR: dir } });
  const shown = cli();
  assert.equal(shown.status, 0);
  assert.match(shown.stdout, new RegExp(`^settings file: ${path.join(dir, 'settings.json').replaceAll('/', '\\/')}\n`));
  assert.match(shown.stdout, /render {5}= auto\n/);
  const set = cli('set', 'sampler', 'prior');
  assert.equal(set.status, 0);
  assert.match(set.stdout, /sampler {4}= prior/);
  const bad = cli('set', 'grid', '99');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: grid must be an integer from 1 to 10 \(got 99\)\n/);
  assert.equal(cli('reset').status, 0);
  assert.match(cli().stdout, /sampler {4}= fitted/);
  fs.writeFileSync(path.join(dir, 'settings.json'), 'not json');
  const corrupt = cli();
  assert.equal(corrupt.status, 0);
  assert.equal(corrupt.stderr.trimEnd().split('\n').length, 1);
  assert.match(corrupt.stderr, /^warning: settings file/);
  assert.equal(formatSettings(openSettings({ dir })).split('\n')[0], `settings file: ${path.join(dir, 'settings.json')}`);
});
