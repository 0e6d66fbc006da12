/**
 * The `fitted` sampler's latent density: per digit, a Gaussian mixture with full covariances fitted by
 * EM to the encoder's z_mean over the training set. With gamma = 1e-4 the KL term barely pulls the
 * codes towards N(0, I) and the code still carries the label, so z ~ N(0, I) often decodes to the
 * wrong digit; sampling where the training codes of that digit actually lie fixes that.
 *
 * Plain Float64 JS: 16 dimensions, a few thousand points per digit, a few components.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { NUM_CLASSES, type MnistSet } from './data.js';
import { CheckpointError } from './errors.js';
import { modelInputs, runModel } from './model.js';
import { createRng, type Rng } from './rng.js';

/** One mixture: K weights, K means [d], K lower-triangular Cholesky factors of the covariances [d*d, row-major]. */
export interface GaussianMixture {
  readonly weights: number[];
  readonly means: number[][];
  readonly choleskys: number[][];
}

/** The fitted density stored in a checkpoint's meta.json. */
export interface LatentPrior {
  readonly kind: 'gaussian-mixture';
  readonly latentDim: number;
  /** Components asked for; a digit with few training codes gets fewer (see `componentsFor`). */
  readonly components: number;
  /** Index = digit. */
  readonly digits: GaussianMixture[];
  /** Training codes each digit's mixture was fitted to. */
  readonly samplesPerDigit: number[];
}

/**
 * Components per digit, chosen on held-out training images (tools/select-on-held-out.ts on the shipped
 * checkpoint, seed 2: mixtures fitted to the codes of training images 0-49,999, scored on 50,000-59,999;
 * the test set plays no part). Held-out log-likelihood, nats per code, and the mixtures' samples judged
 * by the shipped classifier (300 per digit; % recognised as the digit asked for, worst digit, Frechet
 * distance to the held-out images):
 *   K=1 -18.98 | K=2 -18.12 | K=4 -17.34 | K=8 -16.90, 98.8% (97.7), 2.10 | K=12 -16.75, 98.8% (97.0), 2.13
 *   K=16 -16.73, 99.2% (98.3), 1.97 | K=20 -16.77, 99.2% (98.3), 1.94 | K=24 -16.83 | K=32 -16.98
 * The held-out likelihood peaks at K=16 (beyond it the mixtures begin to fit the training codes' noise),
 * as it did on seed 1 (K=16 -16.42, K=24 -16.50); the samples are as recognisable at 16 as at 20.
 * K=16 (its fit takes ~1 min for all ten digits on one core).
 */
export const DEFAULT_PRIOR_COMPONENTS = 16;
/** A full-covariance component in 16-d has 152 free parameters; below ~100 points each, EM overfits. */
const MIN_POINTS_PER_COMPONENT = 100;
/** Added to every covariance diagonal so factors stay positive definite. */
const COVARIANCE_FLOOR = 1e-6;

export interface FitOptions {
  /** Components per digit (capped by the data, see MIN_POINTS_PER_COMPONENT). Default DEFAULT_PRIOR_COMPONENTS. */
  components?: number;
  seed?: number;
  maxIterations?: number;
  /** Stop when the mean log-likelihood improves by less than this. */
  tolerance?: number;
}

/** The number of components actually fitted to `n` points when `requested` are asked for. */
export function componentsFor(n: number, requested: number): number {
  return Math.max(1, Math.min(requested, Math.floor(n / MIN_POINTS_PER_COMPONENT)));
}

/** Fits a K-component full-covariance Gaussian mixture to `n = points.length / dim` points by EM from a k-means++ start. */
export function fitGaussianMixture(points: Float64Array, dim: number, k: number, rng: Rng, options: Omit<FitOptions, 'components' | 'seed'> = {}): GaussianMixture {
  const n = points.length / dim;
  if (n < 1 || !Number.isInteger(n)) throw new RangeError(`fitGaussianMixture needs at least one ${dim}-d point`);
  const K = Math.max(1, Math.min(k, n));
  // Past ~100 iterations / 1e-5 relative change the held-out likelihood moves by < 0.01 nats (measured).
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-5;

  // Hard k-means assignments give the first responsibilities.
  const centers = kMeansPlusPlus(points, dim, K, rng);
  const resp = new Float64Array(n * K);
  for (let iter = 0; iter < 10; iter++) {
    const assign = nearestCenters(points, dim, centers, K);
    const sums = new Float64Array(K * dim);
    const counts = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      counts[c]!++;
      for (let j = 0; j < dim; j++) sums[c * dim + j]! += points[i * dim + j]!;
    }
    for (let c = 0; c < K; c++) if (counts[c]! > 0) for (let j = 0; j < dim; j++) centers[c * dim + j] = sums[c * dim + j]! / counts[c]!;
    if (iter === 9) for (let i = 0; i < n; i++) resp[i * K + assign[i]!] = 1;
  }

  let mixture = mStep(points, dim, resp, K);
  let previous = -Infinity;
  for (let iter = 0; iter < maxIterations; iter++) {
    const ll = eStep(points, dim, mixture, resp);
    mixture = mStep(points, dim, resp, K);
    if (ll - previous < tolerance * Math.max(1, Math.abs(ll))) break;
    previous = ll;
  }
  return mixture;
}

/** Mean log-density of the points under the mixture (nats per point). */
export function mixtureLogLikelihood(mixture: GaussianMixture, points: Float64Array, dim: number): number {
  const n = points.length / dim;
  const K = mixture.weights.length;
  const logp = new Float64Array(K);
  const diff = new Float64Array(dim);
  let total = 0;
  const logDets = mixture.choleskys.map((L) => choleskyLogDet(L, dim));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < K; c++) {
      for (let j = 0; j < dim; j++) diff[j] = points[i * dim + j]! - mixture.means[c]![j]!;
      logp[c] = Math.log(mixture.weights[c]!) + gaussianLogDensity(diff, mixture.choleskys[c]!, logDets[c]!, dim);
    }
    total += logSumExp(logp);
  }
  return total / n;
}

/** `n` draws [n * dim]: a component by weight, then mean + scale * L * eps. */
export function sampleMixture(mixture: GaussianMixture, n: number, scale: number, rng: Rng): Float32Array {
  const dim = mixture.means[0]!.length;
  const out = new Float32Array(n * dim);
  const eps = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    let u = rng.uniform();
    let c = 0;
    while (c < mixture.weights.length - 1 && u >= mixture.weights[c]!) u -= mixture.weights[c++]!;
    const L = mixture.choleskys[c]!;
    const mean = mixture.means[c]!;
    for (let j = 0; j < dim; j++) eps[j] = rng.normal();
    for (let r = 0; r < dim; r++) {
      let v = 0;
      for (let j = 0; j <= r; j++) v += L[r * dim + j]! * eps[j]!;
      out[s * dim + r] = mean[r]! + scale * v;
    }
  }
  return out;
}

/** The encoder's z_mean for every example of `set` (inference mode, batched), Float32 [count * latentDim]. */
export async function encodeLatentMeans(encoder: tfl.LayersModel, set: MnistSet, latentDim: number, batchSize = 256): Promise<Float32Array> {
  const out = new Float32Array(set.count * latentDim);
  for (let start = 0; start < set.count; start += batchSize) {
    const size = Math.min(batchSize, set.count - start);
    const zMean = tf.tidy(() => {
      return runModel(encoder, modelInputs(set, start, size), false)[0]!;
    });
    out.set(await zMean.data(), start * latentDim);
    zMean.dispose();
    // Let a UI repaint between batches.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

/** Fits the per-digit mixtures to z_mean of the training set. `signal` aborts between digits (returns undefined). */
export async function fitLatentPrior(encoder: tfl.LayersModel, set: MnistSet, latentDim: number, options: FitOptions & { signal?: AbortSignal } = {}): Promise<LatentPrior | undefined> {
  const codes = await encodeLatentMeans(encoder, set, latentDim);
  return fitDigitMixtures(codes, set.labels, latentDim, options);
}

/** Fits one mixture per digit to the given codes (z_mean, [n * latentDim]) with their labels. */
export async function fitDigitMixtures(codes: Float32Array, labels: Uint8Array, latentDim: number, options: FitOptions & { signal?: AbortSignal } = {}): Promise<LatentPrior | undefined> {
  const requested = options.components ?? DEFAULT_PRIOR_COMPONENTS;
  const digits: GaussianMixture[] = [];
  const samplesPerDigit: number[] = [];
  for (let digit = 0; digit < NUM_CLASSES; digit++) {
    if (options.signal?.aborted) return undefined;
    const points = codesOfDigit(codes, labels, digit, latentDim);
    const n = points.length / latentDim;
    samplesPerDigit.push(n);
    if (n === 0) {
      // A tiny --limit run may hold no image of some digit: sample it from N(0, I) as the notebook does.
      digits.push({ weights: [1], means: [new Array<number>(latentDim).fill(0)], choleskys: [identity(latentDim)] });
      continue;
    }
    const rng = createRng(options.seed ?? 0, 'prior', digit);
    digits.push(fitGaussianMixture(points, latentDim, componentsFor(n, requested), rng, options));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { kind: 'gaussian-mixture', latentDim, components: requested, digits, samplesPerDigit };
}

/** The codes of one digit as Float64 [n * dim]. */
export function codesOfDigit(codes: Float32Array, labels: Uint8Array, digit: number, dim: number): Float64Array {
  let n = 0;
  for (const l of labels) if (l === digit) n++;
  const out = new Float64Array(n * dim);
  let k = 0;
  labels.forEach((l, i) => {
    if (l !== digit) return;
    for (let j = 0; j < dim; j++) out[k * dim + j] = codes[i * dim + j]!;
    k++;
  });
  return out;
}

/** Checks a prior read from meta.json; throws CheckpointError naming `file` when it is malformed. */
export function validateLatentPrior(value: unknown, latentDim: number, file: string): LatentPrior {
  const fail = (what: string): never => {
    throw new CheckpointError(file, `latent density is malformed (${what}); refit it with \`cvae-repl train --resume --epochs 0 --checkpoint DIR\` or retrain`);
  };
  const p = value as Partial<LatentPrior> | null;
  if (p === null || typeof p !== 'object' || p.kind !== 'gaussian-mixture') return fail('unknown kind');
  if (p.latentDim !== latentDim) return fail(`latentDim ${p.latentDim}, model has ${latentDim}`);
  if (!Array.isArray(p.digits) || p.digits.length !== NUM_CLASSES) return fail('expected 10 digits');
  p.digits.forEach((m, digit) => {
    const K = m?.weights?.length ?? 0;
    if (K < 1 || m.means?.length !== K || m.choleskys?.length !== K) fail(`digit ${digit}: component arrays differ in length`);
    if (m.weights.some((w) => !(w >= 0)) || Math.abs(m.weights.reduce((a, b) => a + b, 0) - 1) > 1e-6) fail(`digit ${digit}: weights do not sum to 1`);
    if (m.means.some((mu) => mu.length !== latentDim || mu.some((v) => !Number.isFinite(v)))) fail(`digit ${digit}: bad mean`);
    if (m.choleskys.some((L) => L.length !== latentDim * latentDim || L.some((v) => !Number.isFinite(v)))) fail(`digit ${digit}: bad covariance factor`);
  });
  return p as LatentPrior;
}

// ---- EM internals -------------------------------------------------------------------------------

function kMeansPlusPlus(points: Float64Array, dim: number, K: number, rng: Rng): Float64Array {
  const n = points.length / dim;
  const centers = new Float64Array(K * dim);
  const first = rng.int(n);
  centers.set(points.subarray(first * dim, (first + 1) * dim), 0);
  const d2 = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < K; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      d2[i] = Math.min(d2[i]!, squaredDistance(points, i, centers, c - 1, dim));
      total += d2[i]!;
    }
    let u = rng.uniform() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= d2[i]!;
      if (u < 0) {
        pick = i;
        break;
      }
    }
    centers.set(points.subarray(pick * dim, (pick + 1) * dim), c * dim);
  }
  return centers;
}

function squaredDistance(points: Float64Array, i: number, centers: Float64Array, c: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = points[i * dim + j]! - centers[c * dim + j]!;
    s += d * d;
  }
  return s;
}

function nearestCenters(points: Float64Array, dim: number, centers: Float64Array, K: number): Uint32Array {
  const n = points.length / dim;
  const assign = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let c = 0; c < K; c++) {
      const d = squaredDistance(points, i, centers, c, dim);
      if (d < best) {
        best = d;
        assign[i] = c;
      }
    }
  }
  return assign;
}

/** Weighted means and covariances from responsibilities [n * K]. Components that lost all points are re-seeded on the worst-fit point. */
function mStep(points: Float64Array, dim: number, resp: Float64Array, K: number): GaussianMixture {
  const n = points.length / dim;
  const weights: number[] = [];
  const means: number[][] = [];
  const choleskys: number[][] = [];
  for (let c = 0; c < K; c++) {
    let nk = 0;
    for (let i = 0; i < n; i++) nk += resp[i * K + c]!;
    const mean = new Array<number>(dim).fill(0);
    const cov = new Float64Array(dim * dim);
    if (nk < 1e-8) {
      // An empty component: put it on a random point with a unit covariance; EM will move or shrink it.
      const i = Math.floor((c * 7919) % n);
      for (let j = 0; j < dim; j++) mean[j] = points[i * dim + j]!;
      for (let j = 0; j < dim; j++) cov[j * dim + j] = 1;
      nk = 1e-8;
    } else {
      for (let i = 0; i < n; i++) {
        const r = resp[i * K + c]!;
        if (r === 0) continue;
        for (let j = 0; j < dim; j++) mean[j]! += r * points[i * dim + j]!;
      }
      for (let j = 0; j < dim; j++) mean[j]! /= nk;
      const diff = new Float64Array(dim);
      for (let i = 0; i < n; i++) {
        const r = resp[i * K + c]!;
        if (r === 0) continue;
        for (let j = 0; j < dim; j++) diff[j] = points[i * dim + j]! - mean[j]!;
        for (let a = 0; a < dim; a++) {
          const ra = r * diff[a]!;
          for (let b = 0; b <= a; b++) cov[a * dim + b]! += ra * diff[b]!;
        }
      }
      for (let a = 0; a < dim; a++) for (let b = 0; b <= a; b++) cov[a * dim + b]! /= nk;
    }
    for (let j = 0; j < dim; j++) cov[j * dim + j]! += COVARIANCE_FLOOR;
    weights.push(nk / n);
    means.push(mean);
    choleskys.push(cholesky(cov, dim));
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return { weights: weights.map((w) => w / total), means, choleskys };
}

/** Fills responsibilities [n * K] (log-sum-exp normalised) and returns the mean log-likelihood. */
function eStep(points: Float64Array, dim: number, mixture: GaussianMixture, resp: Float64Array): number {
  const n = points.length / dim;
  const K = mixture.weights.length;
  const logDets = mixture.choleskys.map((L) => choleskyLogDet(L, dim));
  const logWeights = mixture.weights.map((w) => Math.log(Math.max(w, 1e-300)));
  const logp = new Float64Array(K);
  const diff = new Float64Array(dim);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < K; c++) {
      for (let j = 0; j < dim; j++) diff[j] = points[i * dim + j]! - mixture.means[c]![j]!;
      logp[c] = logWeights[c]! + gaussianLogDensity(diff, mixture.choleskys[c]!, logDets[c]!, dim);
    }
    const norm = logSumExp(logp);
    total += norm;
    for (let c = 0; c < K; c++) resp[i * K + c] = Math.exp(logp[c]! - norm);
  }
  return total / n;
}

/** log N(diff | 0, L L^T), solving L y = diff by forward substitution. `diff` is overwritten. */
function gaussianLogDensity(diff: Float64Array, L: readonly number[], logDet: number, dim: number): number {
  let maha = 0;
  for (let r = 0; r < dim; r++) {
    let v = diff[r]!;
    for (let j = 0; j < r; j++) v -= L[r * dim + j]! * diff[j]!;
    v /= L[r * dim + r]!;
    diff[r] = v;
    maha += v * v;
  }
  return -0.5 * (dim * Math.log(2 * Math.PI) + logDet + maha);
}

/** log det(L L^T) = 2 sum log L_ii. */
function choleskyLogDet(L: readonly number[], dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += Math.log(L[j * dim + j]!);
  return 2 * s;
}

/** Lower Cholesky factor of a symmetric positive definite matrix given by its lower triangle. */
export function cholesky(lower: Float64Array, dim: number): number[] {
  const L = new Array<number>(dim * dim).fill(0);
  for (let r = 0; r < dim; r++) {
    for (let c = 0; c <= r; c++) {
      let s = lower[r * dim + c]!;
      for (let k = 0; k < c; k++) s -= L[r * dim + k]! * L[c * dim + k]!;
      if (r === c) {
        // Rounding can push a nearly singular pivot to <= 0; clamp to the covariance floor.
        L[r * dim + r] = Math.sqrt(Math.max(s, COVARIANCE_FLOOR));
      } else {
        L[r * dim + c] = s / L[c * dim + c]!;
      }
    }
  }
  return L;
}

function identity(dim: number): number[] {
  return Array.from({ length: dim * dim }, (_, i) => (i % (dim + 1) === 0 ? 1 : 0));
}

function logSumExp(values: Float64Array): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (const v of values) s += Math.exp(v - max);
  return max + Math.log(s);
}
