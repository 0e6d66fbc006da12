import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { batchRanges, gatherBatch, loadMnist, MNIST_FILE_NAMES, oneHot, parseIdxImages, parseIdxLabels } from '../src/engine/data.js';
import { DataError } from '../src/engine/errors.js';

function idxImages(count: number, rows = 28, cols = 28, magic = 2051, fill = (i: number) => i % 256): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(magic, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  const body = Buffer.alloc(count * rows * cols);
  for (let i = 0; i < body.length; i++) body[i] = fill(i);
  return Buffer.concat([header, body]);
}

function idxLabels(labels: number[], magic = 2049): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(magic, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

const dirs: string[] = [];
function dataDir(files: Record<string, Buffer>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cvae-data-'));
  dirs.push(dir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(dir, name), bytes);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function expectDataError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof DataError && pattern.test(error.message));
}

describe('IDX parsing', () => {
  test('reads the header big-endian and the pixels raw', () => {
    const parsed = parseIdxImages(new Uint8Array(idxImages(3)), 'x');
    assert.equal(parsed.count, 3);
    assert.equal(parsed.pixels.length, 3 * 784);
    assert.equal(parsed.pixels[300], 300 % 256);
    assert.deepEqual([...parseIdxLabels(new Uint8Array(idxLabels([7, 0, 9])), 'y')], [7, 0, 9]);
  });

  test('a label file where images are expected is named with both magics', () => {
    expectDataError(() => parseIdxImages(new Uint8Array(idxImages(2, 28, 28, 2049)), '/d/train-images-idx3-ubyte'), /^train-images-idx3-ubyte: expected magic 2051 \(IDX images\), found 2049/);
    expectDataError(() => parseIdxLabels(new Uint8Array(idxLabels([1], 2051)), 'l'), /expected magic 2049 .* found 2051/);
  });

  test('truncated, oversized, wrong dimensions, short header and bad labels are rejected', () => {
    const full = idxImages(4);
    expectDataError(() => parseIdxImages(new Uint8Array(full.subarray(0, full.length - 10)), 'f'), /header says 4 images of 28x28 \(3152 bytes\), file has 3142 bytes \(truncated\?\)/);
    expectDataError(() => parseIdxImages(new Uint8Array(Buffer.concat([full, Buffer.alloc(1)])), 'f'), /file has 3153 bytes/);
    expectDataError(() => parseIdxImages(new Uint8Array(idxImages(1, 32, 32)), 'f'), /expected 28x28 images, found 32x32/);
    expectDataError(() => parseIdxImages(new Uint8Array(10), 'f'), /too short/);
    expectDataError(() => parseIdxLabels(new Uint8Array(idxLabels([1, 10])), 'f'), /label 1 is 10/);
  });
});

describe('loadMnist', () => {
  test('the shipped MNIST: 60,000 / 10,000, pixels in [0, 1], all digits present', async () => {
    const train = await loadMnist('train', { limit: 1000 });
    assert.equal(train.count, 1000);
    assert.equal(train.images.length, 1000 * 784);
    assert.ok(train.images.every((v) => v >= 0 && v <= 1));
    assert.ok(train.images.some((v) => v === 1));
    assert.equal(new Set(train.labels).size, 10);
    assert.equal(train.labels[0], 5); // MNIST's first training digit is a 5
    const test = await loadMnist('test');
    assert.equal(test.count, 10000);
    assert.equal(test.labels[0], 7);
  });

  test('a user directory with gzipped and raw files, detected by magic bytes', async () => {
    const dir = dataDir({
      [`${MNIST_FILE_NAMES.train.images}.gz`]: gzipSync(idxImages(5, 28, 28, 2051, () => 255)),
      [MNIST_FILE_NAMES.train.labels]: idxLabels([0, 1, 2, 3, 4]),
    });
    const set = await loadMnist('train', { dataDir: dir });
    assert.equal(set.count, 5);
    assert.equal(set.images[0], 1);
    assert.deepEqual([...set.labels], [0, 1, 2, 3, 4]);
  });

  test('mismatched counts, missing files and corrupt gzip name the file', async () => {
    const mismatched = dataDir({ [MNIST_FILE_NAMES.test.images]: idxImages(3), [MNIST_FILE_NAMES.test.labels]: idxLabels([1, 2]) });
    await assert.rejects(loadMnist('test', { dataDir: mismatched }), /t10k-images-idx3-ubyte: has 3 images but t10k-labels-idx1-ubyte has 2 labels/);
    const missing = dataDir({ [MNIST_FILE_NAMES.test.images]: idxImages(3) });
    await assert.rejects(loadMnist('test', { dataDir: missing }), (e: unknown) => e instanceof DataError && /t10k-labels-idx1-ubyte: not found \(nor t10k-labels-idx1-ubyte.gz\)/.test(e.message));
    const corrupt = gzipSync(idxLabels([1, 2, 3])).subarray(0, 12);
    const bad = dataDir({ [MNIST_FILE_NAMES.test.images]: idxImages(3), [`${MNIST_FILE_NAMES.test.labels}.gz`]: corrupt });
    await assert.rejects(loadMnist('test', { dataDir: bad }), /t10k-labels-idx1-ubyte.gz: gzip data is corrupt/);
  });
});

describe('batching', () => {
  test('one-hot rows and gathered batches follow the order; the last partial batch is kept', () => {
    assert.deepEqual([...oneHot([2, 0])], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(batchRanges(300, 128), [[0, 128], [128, 256], [256, 300]]);
    const images = new Float32Array(3 * 784).map((_, i) => Math.floor(i / 784));
    const set = { split: 'train' as const, count: 3, images, labels: new Uint8Array([4, 5, 6]), files: { images: '', labels: '' }, fingerprint: '' };
    const batch = gatherBatch(set, [2, 0, 1], 0, 2);
    assert.equal(batch.size, 2);
    assert.equal(batch.images[0], 2);
    assert.equal(batch.images[784], 0);
    assert.deepEqual([...batch.labels], [6, 4]);
    assert.equal(batch.onehot[6], 1);
  });
});
