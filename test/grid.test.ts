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
