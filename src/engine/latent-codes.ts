/**
 * Where `:style`, `:morph` and `:walk` take their latent codes from, and the exact codes and labels
 * each command decodes. The session shows these plans and `cvae-repl eval` scores the same plans, so
 * what eval measures is what the prompt draws.
 *
 * With gamma = 1e-4 the code z carries the digit: a z drawn inside one digit's cluster decodes as that
 * digit whatever the label says. Near the centre of all the training codes the label decides instead.
 * A "style code" is therefore drawn around that centre, spread like the codes of one digit around
 * their own digit's mean (the pooled within-digit covariance W), shrunk by STYLE_SPREAD:
 *   z = c + STYLE_SPREAD * scale * chol(W) * eps,   eps ~ N(0, I),
 * where c is the mean of all training codes. Both come from the fitted per-digit mixtures stored
 * in the checkpoint. tools/explore-principles.ts measured this against the other candidates
 * (N(0, s^2 I), codes picked by the classifier, encoded held-out digits with their digit's mean removed)
 * with the shipped classifier on held-out seeds; the numbers are in the README.
 */
import { NUM_CLASSES } from './data.js';
import { cholesky, type LatentPrior } from './prior.js';
import type { Rng } from './rng.js';

/** Tiles per `:morph` and `:walk` strip. */
export const STRIP_STEPS = 10;

/**
 * How far style codes spread from the centre, in units of the within-digit spread (`:scale` multiplies
 * it). tools/explore-principles.ts on held-out seeds: the widest spread at which :style, :morph and :walk
 * all score at least 97% with no digit below 90%, on each 30-epoch seed of the recipe (seed 1: 0.3,
 * seeds 2 and 3: 0.5, seed 4: 0.35); one constant serves every checkpoint, so the narrowest.
 */
export const STYLE_SPREAD = 0.3;

/** Scale of the N(0, s^2 I) fallback for a checkpoint without a fitted density (the same rule: seed 1 0.2, seeds 2-4 0.35). */
export const PRIOR_FALLBACK_SCALE = 0.2;

/** The centre of the training codes and their within-digit spread, from the fitted density. */
export interface LatentGeometry {
  readonly dim: number;
  /** Mean of all training codes [dim]. */
  readonly centre: Float64Array;
  /** Mean of each digit's codes, index = digit. */
  readonly digitMeans: readonly Float64Array[];
  /** Lower Cholesky factor [dim * dim] of the pooled within-digit covariance. */
  readonly within: readonly number[];
  /** Lower Cholesky factor [dim * dim] of the covariance of all codes (within plus between digits). */
  readonly aggregate: readonly number[];
}

/** Moments of the fitted mixtures: digit d weighs by its training codes, each component by its weight. */
export function latentGeometry(prior: LatentPrior): LatentGeometry {
  const dim = prior.latentDim;
  const total = prior.samplesPerDigit.reduce((a, b) => a + b, 0);
  const digitWeight = (d: number): number => (total > 0 ? prior.samplesPerDigit[d]! / total : 1 / NUM_CLASSES);
  const centre = new Float64Array(dim);
  const digitMeans: Float64Array[] = [];
  prior.digits.forEach((mixture, d) => {
    const mean = new Float64Array(dim);
    mixture.means.forEach((m, c) => {
      for (let j = 0; j < dim; j++) mean[j]! += mixture.weights[c]! * m[j]!;
    });
    digitMeans.push(mean);
    for (let j = 0; j < dim; j++) centre[j]! += digitWeight(d) * mean[j]!;
  });
  // Lower triangles of W (within) and T (total) = W + sum_d p_d (mu_d - c)(mu_d - c)^T.
  const within = new Float64Array(dim * dim);
  const between = new Float64Array(dim * dim);
  prior.digits.forEach((mixture, d) => {
    const p = digitWeight(d);
    const mu = digitMeans[d]!;
    mixture.means.forEach((m, c) => {
      const w = p * mixture.weights[c]!;
      const L = mixture.choleskys[c]!;
      for (let r = 0; r < dim; r++) {
        for (let s = 0; s <= r; s++) {
          let cov = 0;
          for (let k = 0; k <= s; k++) cov += L[r * dim + k]! * L[s * dim + k]!;
          within[r * dim + s]! += w * (cov + (m[r]! - mu[r]!) * (m[s]! - mu[s]!));
        }
      }
    });
    for (let r = 0; r < dim; r++) for (let s = 0; s <= r; s++) between[r * dim + s]! += p * (mu[r]! - centre[r]!) * (mu[s]! - centre[s]!);
  });
  const totalCov = within.map((v, i) => v + between[i]!);
  return { dim, centre, digitMeans, within: cholesky(within, dim), aggregate: cholesky(totalCov, dim) };
}

/** `n` codes [n * dim]: mean + scale * L * eps. */
export function gaussianCodes(mean: ArrayLike<number>, L: readonly number[] | null, dim: number, n: number, scale: number, rng: Rng): Float32Array {
  const out = new Float32Array(n * dim);
  const eps = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) eps[j] = rng.normal();
    for (let r = 0; r < dim; r++) {
      let v = 0;
      if (L === null) v = eps[r]!;
      else for (let k = 0; k <= r; k++) v += L[r * dim + k]! * eps[k]!;
      out[i * dim + r] = (mean[r] ?? 0) + scale * v;
    }
  }
  return out;
}

/** Draws `n` style codes [n * dim]: codes where the label, not the code, decides the digit. */
export type StyleCodeSource = (n: number, rng: Rng) => Float32Array | Promise<Float32Array>;

/** The shipped principle: around the centre of the codes, with the within-digit spread times STYLE_SPREAD * scale; N(0, (PRIOR_FALLBACK_SCALE * scale)^2 I) without a fitted density. */
export function centreStyleCodes(geometry: LatentGeometry | null, dim: number, scale = 1): StyleCodeSource {
  if (geometry === null) return (n, rng) => gaussianCodes(new Float64Array(dim), null, dim, n, PRIOR_FALLBACK_SCALE * scale, rng);
  return (n, rng) => gaussianCodes(geometry.centre, geometry.within, dim, n, STYLE_SPREAD * scale, rng);
}

/** The plans the prompt draws with a checkpoint's fitted density (or without one), at `:scale` `scale`. */
export function checkpointPlanner(prior: LatentPrior | null, dim: number, scale = 1): ExplorePlanner {
  return explorePlanner(centreStyleCodes(prior === null ? null : latentGeometry(prior), dim, scale), dim);
}

/** What one command decodes: codes [n * dim] and label weights [n * 10]. */
export interface DecodePlan {
  readonly z: Float32Array;
  readonly labels: Float32Array;
  readonly count: number;
}

/** The plans of the three commands. */
export interface ExplorePlanner {
  readonly dim: number;
  /** `rows` style codes, each decoded with the labels 0-9 (row-major, 10 per row). */
  style(rows: number, rng: Rng): Promise<DecodePlan>;
  /** One style code, the label blended from `from` to `to` over STRIP_STEPS tiles. */
  morph(from: number, to: number, rng: Rng): Promise<DecodePlan>;
  /** The label `digit` fixed, the code on the straight line between two style codes, STRIP_STEPS tiles. */
  walk(digit: number, rng: Rng): Promise<DecodePlan>;
}

const oneHot = (digits: readonly number[]): Float32Array => {
  const labels = new Float32Array(digits.length * NUM_CLASSES);
  digits.forEach((d, i) => (labels[i * NUM_CLASSES + d] = 1));
  return labels;
};

/** Blended one-hot labels from `from` (t = 0) to `to` (t = 1); for from = to, `from` every time. */
export function morphLabels(from: number, to: number, steps = STRIP_STEPS): Float32Array {
  const labels = new Float32Array(steps * NUM_CLASSES);
  for (let i = 0; i < steps; i++) {
    const t = steps === 1 ? 1 : i / (steps - 1);
    labels[i * NUM_CLASSES + from] = 1 - t;
    labels[i * NUM_CLASSES + to]! += t;
  }
  return labels;
}

/** Repeats each of the `n` codes in `codes` `times` times, keeping the order. */
function repeatCodes(codes: Float32Array, dim: number, times: number): Float32Array {
  const n = codes.length / dim;
  const out = new Float32Array(n * times * dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < times; k++) out.set(codes.subarray(i * dim, (i + 1) * dim), (i * times + k) * dim);
  return out;
}

/** The three commands' plans over a source of style codes. */
export function explorePlanner(source: StyleCodeSource, dim: number): ExplorePlanner {
  return {
    dim,
    async style(rows, rng) {
      const codes = await source(rows, rng);
      return { z: repeatCodes(codes, dim, NUM_CLASSES), labels: oneHot(Array.from({ length: rows * NUM_CLASSES }, (_, i) => i % NUM_CLASSES)), count: rows * NUM_CLASSES };
    },
    async morph(from, to, rng) {
      return { z: repeatCodes(await source(1, rng), dim, STRIP_STEPS), labels: morphLabels(from, to), count: STRIP_STEPS };
    },
    async walk(digit, rng) {
      const ends = await source(2, rng);
      const z = new Float32Array(STRIP_STEPS * dim);
      for (let i = 0; i < STRIP_STEPS; i++) {
        const t = i / (STRIP_STEPS - 1);
        for (let j = 0; j < dim; j++) z[i * dim + j] = (1 - t) * ends[j]! + t * ends[dim + j]!;
      }
      return { z, labels: oneHot(new Array<number>(STRIP_STEPS).fill(digit)), count: STRIP_STEPS };
    },
  };
}
