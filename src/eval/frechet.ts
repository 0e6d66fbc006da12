/**
 * The Frechet distance between two Gaussians fitted to feature vectors (the "FID" of Heusel et al. 2017,
 * here in our own classifier's feature space):
 *   d^2 = |mu_a - mu_b|^2 + tr(A) + tr(B) - 2 tr( sqrt( sqrt(A) B sqrt(A) ) ).
 * Everything runs in Float64 on the CPU: 128x128 matrices take milliseconds, and float32 loses the
 * small differences the distance is made of.
 */

/** Mean and covariance of a set of feature vectors. */
export interface GaussianStats {
  readonly dim: number;
  readonly count: number;
  readonly mean: Float64Array; // [dim]
  /** Row-major [dim * dim], unbiased (divides by count - 1, as numpy.cov). */
  readonly cov: Float64Array;
}

export class FrechetInputError extends Error {
  override readonly name = 'FrechetInputError';
}

/** Accumulates mean and covariance over batches of row-major feature vectors, so features never need to be held all at once. */
export class FeatureMoments {
  private readonly sum: Float64Array;
  private readonly outer: Float64Array;
  private n = 0;

  constructor(readonly dim: number) {
    this.sum = new Float64Array(dim);
    this.outer = new Float64Array(dim * dim);
  }

  /** Adds `rows` vectors of length `dim`, row-major. */
  add(features: ArrayLike<number>, rows: number): void {
    const d = this.dim;
    if (features.length !== rows * d) throw new FrechetInputError(`expected ${rows} x ${d} features, got ${features.length} values`);
    // Shifting by the first vector seen would be more stable, but features are O(1)-O(10) activations
    // and the sums are Float64, so the plain second moment is exact enough here.
    const row = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < d; i++) row[i] = features[r * d + i]!;
      for (let i = 0; i < d; i++) {
        const v = row[i]!;
        this.sum[i]! += v;
        const base = i * d;
        // Upper triangle only; mirrored in stats().
        for (let j = i; j < d; j++) this.outer[base + j]! += v * row[j]!;
      }
    }
    this.n += rows;
  }

  get count(): number {
    return this.n;
  }

  stats(): GaussianStats {
    const { dim: d, n } = this;
    if (n < 2) throw new FrechetInputError(`a covariance needs at least 2 feature vectors, got ${n}`);
    const mean = new Float64Array(d);
    for (let i = 0; i < d; i++) mean[i] = this.sum[i]! / n;
    const cov = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const c = (this.outer[i * d + j]! - n * mean[i]! * mean[j]!) / (n - 1);
        cov[i * d + j] = c;
        cov[j * d + i] = c;
      }
    }
    return { dim: d, count: n, mean, cov };
  }
}

/** Mean and unbiased covariance of `rows` row-major vectors of length `dim`. */
export function gaussianStats(features: ArrayLike<number>, rows: number, dim: number): GaussianStats {
  const m = new FeatureMoments(dim);
  m.add(features, rows);
  return m.stats();
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations (Float64, row-major [n*n]).
 * Returns eigenvalues and the eigenvectors as the columns of `vectors`, so A = V diag(values) V^T.
 * Jacobi is slow for big matrices but unconditionally accurate, and n = 128 takes a few milliseconds.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new FrechetInputError(`expected a ${n}x${n} matrix, got ${matrix.length} values`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i]! * a[i]!;
  const tolerance = 1e-26 * Math.max(scale, Number.MIN_VALUE);

  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off <= tolerance) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        // The rotation angle that zeroes a[p][q] (Golub & Van Loan 8.4), the smaller root for stability.
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // Columns p and q of A.
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // Rows p and q of A.
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/** V diag(f(values)) V^T for a symmetric matrix; negative eigenvalues (round-off on a PSD matrix) are clamped to 0 first. */
function psdFunction(matrix: Float64Array, n: number, f: (x: number) => number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const fk = f(Math.max(0, values[k]!));
    if (fk === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * fk;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * vectors[j * n + k]!;
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return out;
}

/** Squared Frechet distance between two Gaussians (the number usually reported as FID). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  const n = a.dim;
  if (b.dim !== n) throw new FrechetInputError(`feature sizes differ: ${a.dim} vs ${b.dim}`);
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  let traceA = 0;
  let traceB = 0;
  for (let i = 0; i < n; i++) {
    traceA += a.cov[i * n + i]!;
    traceB += b.cov[i * n + i]!;
  }
  // tr sqrt(A B) computed as tr sqrt(sqrt(A) B sqrt(A)): the inner matrix is symmetric PSD, so a
  // symmetric eigen-solver applies and no complex square roots appear (unlike scipy's sqrtm(A @ B)).
  const sqrtA = psdFunction(a.cov, n, Math.sqrt);
  const inner = matmul(matmul(sqrtA, b.cov, n), sqrtA, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = (inner[i * n + j]! + inner[j * n + i]!) / 2; // symmetrise round-off
      inner[i * n + j] = s;
      inner[j * n + i] = s;
    }
  }
  const { values } = symmetricEigen(inner, n);
  let traceSqrt = 0;
  for (const x of values) traceSqrt += Math.sqrt(Math.max(0, x));
  // Tiny negative results are round-off on identical sets.
  return Math.max(0, meanTerm + traceA + traceB - 2 * traceSqrt);
}
