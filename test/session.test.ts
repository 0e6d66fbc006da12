import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { decodePng } from '../src/render/grid.js';
import { createSession, defaultSaveName, slerp, type Picture, type SessionInput, type SessionOutput } from '../src/explore/session.js';
import { loadReplModel } from '../src/explore/model.js';
import { parseLine } from '../src/prompt/commands.js';
import { createFakeGenerator } from './fake-generator.js';
import { tinyCheckpoint } from './real-checkpoint.js';

/** The session input of a prompt line, as the front ends build it. */
function input(line: string): SessionInput {
  const parsed = parseLine(line);
  if (parsed.kind === 'digit') return { kind: 'digit', digit: parsed.digit };
  if (parsed.kind === 'command') return { kind: 'command', command: parsed.command };
  throw new Error(`${line} is not an input: ${JSON.stringify(parsed)}`);
}

const pictureOf = (outputs: SessionOutput[]): Picture => {
  const first = outputs[0];
  assert.ok(first?.kind === 'picture', `expected a picture, got ${JSON.stringify(outputs)}`);
  return first.picture;
};
const textOf = (outputs: SessionOutput[]): string => outputs.map((o) => (o.kind === 'picture' ? `[${o.picture.name}]` : `${o.kind}: ${o.text}`)).join('\n');
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-session-'));

test('session on the fake model: every command gives a picture or a message of the right shape', async () => {
  const saved: Array<[string, unknown]> = [];
  const session = createSession({ model: createFakeGenerator(), settings: { grid: 3, sampler: 'fitted', scale: 1 }, saveSetting: (k, v) => saved.push([k, v]), cwd: tmp() });
  assert.match(textOf(await session.run(input(':walk'))), /^error: :walk needs a digit: type one first, or :walk 3$/);
  assert.match(textOf(await session.run(input(':save'))), /^error: nothing to save yet/);

  const grid = pictureOf(await session.run(input('3')));
  assert.deepEqual([grid.name, grid.tiles.length, grid.cols, grid.caption], ['grid', 9, 3, undefined]);
  const style = pictureOf(await session.run(input(':style')));
  assert.deepEqual([style.name, style.tiles.length, style.cols], ['style', 40, 10]);
  assert.match(style.caption ?? '', /one latent z per row .*digits 0-9/);
  const morph = pictureOf(await session.run(input(':morph 1 7')));
  assert.deepEqual([morph.name, morph.tiles.length, morph.cols], ['morph', 10, 10]);
  // The fake decoder blends glyphs by label weight: the ends are pure 1 and pure 7.
  const max = (p: Picture, i: number): number => Math.max(...p.tiles[i]!.pixels);
  assert.ok(max(morph, 0) > 0.5 && max(morph, 9) > 0.5);
  assert.notDeepEqual(morph.tiles[0]!.pixels, morph.tiles[9]!.pixels);
  const walk = pictureOf(await session.run(input(':walk')));
  assert.match(walk.caption ?? '', /^walk: digit 3, 10 steps/); // the last digit asked
  assert.match(walk.caption ?? '', /straight line between two draws from its fitted density/);
  const recon = pictureOf(await session.run(input(':recon')));
  assert.deepEqual([recon.name, recon.tiles.length, recon.cols], ['recon', 20, 10]);
  assert.match(recon.caption ?? '', /z = encoder mean/);

  const help = textOf(await session.run(input(':help')));
  for (const name of [':style', ':morph', ':walk', ':recon', ':save', ':seed', ':scale', ':sampler', ':grid', ':help']) assert.ok(help.includes(name), name);

  assert.equal(textOf(await session.run(input(':grid 2'))), 'message: grid = 2 (saved)');
  assert.equal(pictureOf(await session.run(input('5'))).tiles.length, 4);
  assert.equal(textOf(await session.run(input(':sampler prior'))), 'message: sampler = prior (saved)');
  assert.match(pictureOf(await session.run(input(':walk 4'))).caption ?? '', /spherical interpolation between two N\(0, I\) draws/);
  assert.equal(textOf(await session.run(input(':scale 0.5'))), 'message: scale = 0.5 (saved)');
  assert.equal(textOf(await session.run(input(':seed 9'))), 'message: seed = 9 (saved)');
  assert.equal(textOf(await session.run(input(':seed'))), 'message: seed = 9');
  assert.equal(textOf(await session.run(input(':seed off'))), 'message: seed = off (fresh draws) (saved)');
  assert.deepEqual(saved, [['grid', 2], ['sampler', 'prior'], ['scale', 0.5], ['seed', 9], ['seed', null]]);
  assert.deepEqual(session.settings, { grid: 2, sampler: 'prior', scale: 0.5 });
});

test('a seed replays the same pictures; without one every draw is fresh', async () => {
  const model = createFakeGenerator();
  const run = async (seed: number | undefined) => {
    const session = createSession({ model, settings: { grid: 3, sampler: 'prior', scale: 1, ...(seed === undefined ? {} : { seed }) } });
    return [pictureOf(await session.run(input(':walk 2'))), pictureOf(await session.run(input(':style 2')))];
  };
  const [a, b] = [await run(4), await run(4)];
  assert.deepEqual(a.map((p) => p.tiles.map((t) => Array.from(t.pixels))), b.map((p) => p.tiles.map((t) => Array.from(t.pixels))));
  // Digits keep --seed's meaning: the n-th draw uses seed + n.
  const session = createSession({ model, settings: { grid: 1, sampler: 'fitted', scale: 1, seed: 10 } });
  await session.run(input('3'));
  await session.run(input(':style 1'));
  await session.run(input('3'));
  assert.deepEqual(model.calls.slice(-2).map((c) => c.options?.seed), [10, 12]);
  // `:seed N` starts the count again.
  await session.run(input(':seed 10'));
  await session.run(input('3'));
  assert.equal(model.calls.at(-1)!.options?.seed, 10);
});

test(':save writes the last picture as a PNG, atomically, where asked or under a timestamped name', async () => {
  const cwd = tmp();
  const session = createSession({ model: createFakeGenerator(), settings: { grid: 3, sampler: 'fitted', scale: 1 }, cwd, now: () => new Date(2026, 10, 24, 23, 15, 2) });
  await session.run(input(':morph 2 5'));
  const named = textOf(await session.run(input(':save strips/morph')));
  assert.match(named, /^error: cannot save to .*strips\/morph\.png: .*strips is not a directory$/);
  fs.mkdirSync(path.join(cwd, 'strips'));
  assert.equal(textOf(await session.run(input(':save strips/morph'))), `message: saved the morph picture to ${path.join(cwd, 'strips', 'morph.png')} (1192x112 px)`);
  // 10 tiles of 28 px and 9 gaps of 2 = 298 x 28, saved 4x.
  const png = decodePng(fs.readFileSync(path.join(cwd, 'strips', 'morph.png')));
  assert.deepEqual([png.width, png.height], [1192, 112]);
  assert.equal(defaultSaveName('morph', new Date(2026, 10, 24, 23, 15, 2)), 'cvae-morph-20261124-231502.png');
  assert.match(textOf(await session.run(input(':save'))), /saved the morph picture to .*cvae-morph-20261124-231502\.png \(1192x112 px\)$/);
  assert.deepEqual(fs.readdirSync(cwd).sort(), ['cvae-morph-20261124-231502.png', 'strips'], 'no temp files left');
});

test('a setting that cannot be written still applies to the session and says so', async () => {
  const session = createSession({
    model: createFakeGenerator(),
    settings: { grid: 3, sampler: 'fitted', scale: 1 },
    saveSetting: () => {
      throw new Error('EACCES: permission denied, open settings.json');
    },
  });
  assert.equal(textOf(await session.run(input(':grid 5'))), 'error: grid = 5 for this session, but the settings file was not written: EACCES: permission denied, open settings.json');
  assert.equal(session.settings.grid, 5);
});

test('slerp keeps the ends and the norm of equal-norm codes', () => {
  const a = Float32Array.from([3, 0, 0, 4]);
  const b = Float32Array.from([0, 5, 0, 0]);
  assert.deepEqual(Array.from(slerp(a, b, 0)).map((v) => Math.round(v * 1e5) / 1e5), [3, 0, 0, 4]);
  assert.deepEqual(Array.from(slerp(a, b, 1)).map((v) => Math.round(v * 1e5) / 1e5), [0, 5, 0, 0]);
  const mid = slerp(a, b, 0.5);
  assert.ok(Math.abs(Math.hypot(...mid) - 5) < 1e-5);
});

test('session on a real tiny checkpoint: every command, pictures of the right size, tensor memory flat, MNIST test set for :recon', async () => {
  const dir = tinyCheckpoint();
  const model = await loadReplModel(dir, 'auto');
  const cwd = tmp();
  try {
    const session = createSession({ model, settings: { grid: 2, sampler: 'fitted', scale: 1, seed: 1 }, cwd });
    const lines = ['3', ':style 2', ':morph 3 8', ':walk', ':recon', ':sampler prior', ':walk 5', ':save walk.png'];
    const round = async (): Promise<SessionOutput[][]> => {
      const all: SessionOutput[][] = [];
      for (const line of lines) all.push(await session.run(input(line)));
      await session.run(input(':sampler fitted'));
      return all;
    };
    // The first round loads the test set and warms the backend up.
    const first = await round();
    for (const outputs of first) assert.ok(outputs.every((o) => o.kind !== 'error'), textOf(outputs));
    const sizes = first.filter((o) => o[0]?.kind === 'picture').map((o) => [pictureOf(o).name, pictureOf(o).tiles.length]);
    assert.deepEqual(sizes, [['grid', 4], ['style', 20], ['morph', 10], ['walk', 10], ['recon', 20], ['walk', 10]]);
    for (const outputs of first.filter((o) => o[0]?.kind === 'picture')) {
      for (const tile of pictureOf(outputs).tiles) {
        assert.deepEqual([tile.width, tile.height, tile.pixels.length], [28, 28, 784]);
        assert.ok(tile.pixels.every((v) => v >= 0 && v <= 1 && Number.isFinite(v)));
      }
    }
    // A morph from a digit to itself is the same image ten times (one z, one label).
    const same = pictureOf(await session.run(input(':morph 4 4')));
    for (const tile of same.tiles) assert.deepEqual(Array.from(tile.pixels), Array.from(same.tiles[0]!.pixels));
    // :recon's top row is real MNIST: mostly black background with bright strokes.
    const recon = pictureOf(first[4]!);
    const original = recon.tiles[0]!.pixels;
    assert.ok(original.filter((v) => v === 0).length > 400 && Math.max(...original) === 1);
    assert.deepEqual([decodePng(fs.readFileSync(path.join(cwd, 'walk.png'))).width], [1192]);

    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await round();
    assert.equal(tf.memory().numTensors, before, 'no tensors leak across commands');
  } finally {
    model.dispose();
  }
});
