import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tileGrid, upscale, encodePng, decodePng } from '../src/render/grid.js';
import type { GrayImage } from '../src/engine/types.js';

const tile = (v: number): GrayImage => ({ width: 28, height: 28, pixels: new Float32Array(28 * 28).fill(v) });

test('tileGrid lays tiles out row-major with a gap between them', () => {
  const grid = tileGrid([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map(tile), { pad: 2 });
  assert.equal(grid.width, 3 * 28 + 2 * 2);
  assert.equal(grid.height, 3 * 28 + 2 * 2);
  const at = (x: number, y: number) => grid.pixels[y * grid.width + x]!;
  assert.ok(Math.abs(at(0, 0) - 0.1) < 1e-6);
  assert.ok(Math.abs(at(30, 0) - 0.2) < 1e-6); // second tile starts after 28 + 2
  assert.equal(at(28, 0), 0); // the gap is background
  assert.ok(Math.abs(at(0, 30) - 0.4) < 1e-6); // row-major: tile 4 opens the second row
  assert.ok(Math.abs(at(60, 60) - 0.9) < 1e-6);
});

test('tileGrid honours cols and rejects tiles of another size', () => {
  const strip = tileGrid([0, 1, 0, 1].map(tile), { cols: 4, pad: 0 });
  assert.deepEqual([strip.width, strip.height], [112, 28]);
  assert.throws(() => tileGrid([tile(0), { width: 2, height: 2, pixels: new Float32Array(4) }]), /tile 1 is 2x2/);
});

test('PNG round trip keeps size and 8-bit values; upscale is nearest-neighbour', () => {
  const img = upscale({ width: 2, height: 1, pixels: new Float32Array([0, 1]) }, 3);
  assert.deepEqual([img.width, img.height], [6, 3]);
  const back = decodePng(encodePng(img));
  assert.deepEqual([back.width, back.height], [6, 3]);
  assert.deepEqual(Array.from(back.pixels.slice(0, 6)), [0, 0, 0, 1, 1, 1]);
});

// Cases found by mutation testing (tools/mutation/render.json): exact pixels, so an off-by-one in
// the layout or the upscale shows.
const image = (w: number, h: number, f: (x: number, y: number) => number) => ({ width: w, height: h, pixels: Float32Array.from({ length: w * h }, (_, i) => f(i % w, Math.floor(i / w))) });

test('tileGrid: the second row starts one tile height plus the gap down, the background fills the gaps', () => {
  const tiles = [0.1, 0.2, 0.3, 0.4].map((v) => image(2, 3, () => v));
  const grid = tileGrid(tiles, { cols: 2, pad: 1, background: 0.9 });
  assert.deepEqual([grid.width, grid.height], [5, 7]);
  const at = (x: number, y: number) => Math.round(grid.pixels[y * grid.width + x]! * 10) / 10;
  assert.deepEqual([at(0, 0), at(3, 0), at(0, 4), at(3, 6)], [0.1, 0.2, 0.3, 0.4]);
  assert.deepEqual([at(2, 0), at(0, 3), at(2, 5)], [0.9, 0.9, 0.9]);
  assert.throws(() => tileGrid([]), /at least one tile/);
  assert.throws(() => tileGrid([image(2, 3, () => 0), image(3, 3, () => 0)]), /tile 1 is 3x3, expected 2x3/);
  assert.throws(() => tileGrid([image(2, 3, () => 0), image(2, 4, () => 0)]), /tile 1 is 2x4, expected 2x3/);
});

test('upscale repeats each pixel f x f times, rows and columns alike', () => {
  const small = image(2, 2, (x, y) => (y * 2 + x) / 4);
  const up = upscale(small, 3);
  assert.deepEqual([up.width, up.height], [6, 6]);
  const expected = Array.from({ length: 36 }, (_, i) => (Math.floor(Math.floor(i / 6) / 3) * 2 + Math.floor((i % 6) / 3)) / 4);
  assert.deepEqual(Array.from(up.pixels), expected);
  assert.equal(upscale(small, 1), small);
  assert.equal(upscale(small, 0.5), small, 'a factor below 1 leaves the image as it is');
});
