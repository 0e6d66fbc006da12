import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frechetDistance, gaussianStats, symmetricEigen, FeatureMoments, type GaussianStats } from '../src/eval/frechet.js';

/** A deterministic pseudo-random stream (mulberry32), so the tests never flake. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomOrthogonal(n: number, next: () => number): Float64Array {
  // Eigenvectors of a random symmetric matrix are an orthogonal basis.
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) m[i * n + j] = m[j * n + i] = next() - 0.5;
  return symmetricEigen(m, n).vectors;
}

/** R diag(d) R^T */
function rotated(diag: number[], r: Float64Array): Float64Array {
  const n = diag.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += r[i * n + k]! * diag[k]! * r[j * n + k]!;
    out[i * n + j] = s;
  }
  return out;
}

function stats(mean: number[], cov: Float64Array): GaussianStats {
  return { dim: mean.length, count: 1000, mean: Float64Array.from(mean), cov };
}

test('symmetricEigen reconstructs the matrix from orthonormal eigenvectors', () => {
  const n = 12;
  const next = rng(1);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = next() * 2 - 1;
  const { values, vectors } = symmetricEigen(a, n);
  const back = rotated(Array.from(values), vectors);
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(back[i]! - a[i]!) < 1e-12, `entry ${i}`);
  for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) {
    let dot = 0;
    for (let k = 0; k < n; k++) dot += vectors[k * n + p]! * vectors[k * n + q]!;
    assert.ok(Math.abs(dot - (p === q ? 1 : 0)) < 1e-12);
  }
});

test('the Frechet distance of a set to itself is ~0', () => {
  const next = rng(2);
  const rows = 500;
  const dim = 32;
  const feats = new Float32Array(rows * dim).map(() => next() * 3);
  const s = gaussianStats(feats, rows, dim);
  assert.ok(frechetDistance(s, s) < 1e-8, String(frechetDistance(s, s)));
});

test('shifting a set by delta moves the distance by exactly |delta|^2', () => {
  const next = rng(3);
  const rows = 400;
  const dim = 8;
  const a = new Float64Array(rows * dim).map(() => next());
  const delta = [0.5, -1, 0, 2, 0, 0, 0.25, 1];
  const b = a.map((v, i) => v + delta[i % dim]!);
  const d = frechetDistance(gaussianStats(a, rows, dim), gaussianStats(b, rows, dim));
  assert.ok(Math.abs(d - (0.25 + 1 + 4 + 0.0625 + 1)) < 1e-9, String(d));
});

test('Gaussians with diagonal covariances match the closed form, also after a common rotation', () => {
  // d^2 = |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 for commuting (here diagonal) covariances.
  const da = [4, 1, 9, 0.25, 2];
  const db = [1, 1, 4, 1, 0.5];
  const ma = [1, 0, 0, 2, 0];
  const mb = [0, 0, 3, 2, 0];
  let expected = 1 + 9;
  for (let i = 0; i < da.length; i++) expected += (Math.sqrt(da[i]!) - Math.sqrt(db[i]!)) ** 2;
  const eye = rotated([1, 1, 1, 1, 1], Float64Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 1 : 0)));
  assert.ok(Math.abs(frechetDistance(stats(ma, rotated(da, eye)), stats(mb, rotated(db, eye))) - expected) < 1e-10);
  // The distance is invariant under a rotation of the feature space.
  const r = randomOrthogonal(5, rng(4));
  const rot = (m: number[]) => Array.from({ length: 5 }, (_, i) => m.reduce((s, v, k) => s + r[i * 5 + k]! * v, 0));
  const d = frechetDistance(stats(rot(ma), rotated(da, r)), stats(rot(mb), rotated(db, r)));
  assert.ok(Math.abs(d - expected) < 1e-9, `${d} vs ${expected}`);
});

test('non-commuting covariances: 1-d reduction and symmetry of the distance', () => {
  const r = randomOrthogonal(6, rng(5));
  const a = stats([0, 0, 0, 0, 0, 0], rotated([3, 2, 1, 0.5, 0.1, 0], r));
  const b = stats([1, 0, 0, 0, 0, 0], rotated([1, 1, 2, 0.2, 4, 1], randomOrthogonal(6, rng(6))));
  const ab = frechetDistance(a, b);
  const ba = frechetDistance(b, a);
  assert.ok(ab > 0);
  // a is singular (an eigenvalue 0): square roots near 0 turn 1e-16 round-off into ~1e-8.
  assert.ok(Math.abs(ab - ba) < 1e-6, `${ab} vs ${ba}`);
  // In 1-d: (m_a - m_b)^2 + (s_a - s_b)^2.
  const one = frechetDistance(stats([2], Float64Array.of(9)), stats([-1], Float64Array.of(4)));
  assert.ok(Math.abs(one - (9 + 1)) < 1e-12);
});

test('FeatureMoments over batches equals one pass, and rejects bad input', () => {
  const next = rng(7);
  const feats = new Float64Array(300 * 4).map(() => next());
  const m = new FeatureMoments(4);
  m.add(feats.subarray(0, 100 * 4), 100);
  m.add(feats.subarray(100 * 4), 200);
  const once = gaussianStats(feats, 300, 4);
  const batched = m.stats();
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(once.cov[i]! - batched.cov[i]!) < 1e-12);
  assert.throws(() => m.add(new Float64Array(5), 2), /expected 2 x 4 features/);
  assert.throws(() => new FeatureMoments(3).stats(), /at least 2/);
});

test('128-d covariances (the classifier feature size) take well under a second', () => {
  // Not a timing assertion: this just exercises the real size once so a regression to O(n^4) is visible in the test time.
  const next = rng(8);
  const feats = new Float32Array(600 * 128).map(() => next());
  const s = gaussianStats(feats, 600, 128);
  assert.ok(frechetDistance(s, s) < 1e-6);
});
