import { PNG } from 'pngjs';
import type { GrayImage } from '../engine/types.js';

export interface GridLayout {
  /** Tiles per row; default ceil(sqrt(n)). */
  cols?: number;
  /** Pixels of background between tiles (not around the edge). Default 2. */
  pad?: number;
  /** Background value in [0, 1]. Default 0 (black, as MNIST's background). */
  background?: number;
}

/** Lays equally sized tiles out row-major into one image, `pad` pixels apart. */
export function tileGrid(tiles: readonly GrayImage[], layout: GridLayout = {}): GrayImage {
  const first = tiles[0];
  if (first === undefined) throw new RangeError('tileGrid needs at least one tile');
  const cols = Math.max(1, Math.min(layout.cols ?? Math.ceil(Math.sqrt(tiles.length)), tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const pad = layout.pad ?? 2;
  const { width: tw, height: th } = first;
  const width = cols * tw + (cols - 1) * pad;
  const height = rows * th + (rows - 1) * pad;
  const pixels = new Float32Array(width * height).fill(layout.background ?? 0);
  tiles.forEach((tile, i) => {
    if (tile.width !== tw || tile.height !== th) throw new RangeError(`tile ${i} is ${tile.width}x${tile.height}, expected ${tw}x${th}`);
    const x0 = (i % cols) * (tw + pad);
    const y0 = Math.floor(i / cols) * (th + pad);
    for (let y = 0; y < th; y++) pixels.set(tile.pixels.subarray(y * tw, (y + 1) * tw), (y0 + y) * width + x0);
  });
  return { width, height, pixels };
}

/** Nearest-neighbour upscale by an integer factor, so strokes stay crisp. */
export function upscale(image: GrayImage, factor: number): GrayImage {
  const f = Math.max(1, Math.floor(factor));
  if (f === 1) return image;
  const width = image.width * f;
  const height = image.height * f;
  const pixels = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const src = Math.floor(y / f) * image.width;
    for (let x = 0; x < width; x++) pixels[y * width + x] = image.pixels[src + Math.floor(x / f)]!;
  }
  return { width, height, pixels };
}

/** 8-bit grayscale PNG bytes of an image with values in [0, 1] (clamped). */
export function encodePng(image: GrayImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const data = Buffer.alloc(image.width * image.height);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(Math.min(1, Math.max(0, image.pixels[i]!)) * 255);
  png.data = data;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}

/** Reads an 8-bit PNG back as grayscale (used by tests and by tools that look at saved grids). */
export function decodePng(bytes: Buffer): GrayImage {
  const png = PNG.sync.read(bytes);
  const pixels = new Float32Array(png.width * png.height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = png.data[i * 4]! / 255; // pngjs decodes to RGBA
  return { width: png.width, height: png.height, pixels };
}
