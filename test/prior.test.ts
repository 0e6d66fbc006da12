import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointError } from '../src/engine/errors.js';
import { heldOutLogLikelihood } from '../tools/select-on-held-out.js';
import { cholesky, componentsFor, fitDigitMixtures, fitGaussianMixture, mixtureLogLikelihood, sampleMixture, validateLatentPrior, type GaussianMixture } from '../src/engine/prior.js';
import { createRng } from '../src/engine/rng.js';

const DIM = 16;

/** Two well separated clusters in 16-d: weights 0.3 / 0.7, means at -3 / +3 on axis 0, different spreads. */
function truth(): GaussianMixture {
  const chol = (s: number) => Array.from({ length: DIM * DIM }, (_, i) => (i % (DIM + 1) === 0 ? s : 0));
  const mean = (x: number) => Array.from({ length: DIM }, (_, j) => (j === 0 ? x : 0.1 * j));
  return { weights: [0.3, 0.7], means: [mean(-3), mean(3)], choleskys: [chol(0.5), chol(1.2)] };
}

describe('Gaussian mixture EM', () => {
  test('recovers the weights and means of a known mixture', () => {
    const points = Float64Array.from(sampleMixture(truth(), 4000, 1, createRng(1)));
    const fit = fitGaussianMixture(points, DIM, 2, createRng(2));
    const order = fit.means[0]![0]! < fit.means[1]![0]! ? [0, 1] : [1, 0];
    const [a, b] = order.map((i) => ({ w: fit.weights[i]!, m: fit.means[i]!, L: fit.choleskys[i]! }));
    assert.ok(Math.abs(a!.w - 0.3) < 0.03 && Math.abs(b!.w - 0.7) < 0.03, `weights ${fit.weights}`);
    assert.ok(Math.abs(a!.m[0]! + 3) < 0.1 && Math.abs(b!.m[0]! - 3) < 0.1);
    assert.ok(Math.abs(a!.m[5]! - 0.5) < 0.1);
    // Diagonal of the Cholesky factor ~ the standard deviations.
    assert.ok(Math.abs(a!.L[0]! - 0.5) < 0.05 && Math.abs(b!.L[DIM + 1]! - 1.2) < 0.1);
  });

  test('held-out log-likelihood prefers the true number of components over one Gaussian', () => {
    const train = Float64Array.from(sampleMixture(truth(), 2000, 1, createRng(3)));
    const heldOut = Float64Array.from(sampleMixture(truth(), 1000, 1, createRng(4)));
    const one = mixtureLogLikelihood(fitGaussianMixture(train, DIM, 1, createRng(5)), heldOut, DIM);
    const two = mixtureLogLikelihood(fitGaussianMixture(train, DIM, 2, createRng(5)), heldOut, DIM);
    assert.ok(two > one + 0.5, `K=1 ${one.toFixed(3)} K=2 ${two.toFixed(3)}`);
    // The true density scores about what the fit scores: the fit is not overfitting.
    const exact = mixtureLogLikelihood(truth(), heldOut, DIM);
    assert.ok(Math.abs(two - exact) < 0.1, `fit ${two.toFixed(3)} vs truth ${exact.toFixed(3)}`);
  });

  test('full covariances: a correlated Gaussian is fitted with its correlation, and samples reproduce it', () => {
    const cov = new Float64Array(DIM * DIM);
    for (let i = 0; i < DIM; i++) cov[i * DIM + i] = 1;
    cov[1 * DIM + 0] = 0.8; // corr(z0, z1) = 0.8 (lower triangle)
    const L = cholesky(cov, DIM);
    assert.ok(Math.abs(L[DIM + 1]! - Math.sqrt(1 - 0.64)) < 1e-12);
    const source: GaussianMixture = { weights: [1], means: [new Array(DIM).fill(0)], choleskys: [L] };
    const points = Float64Array.from(sampleMixture(source, 3000, 1, createRng(6)));
    const fit = fitGaussianMixture(points, DIM, 1, createRng(7));
    assert.ok(Math.abs(fit.choleskys[0]![DIM]! - 0.8) < 0.05, `L10 = ${fit.choleskys[0]![DIM]}`);
    // scale multiplies the spread.
    const wide = sampleMixture(fit, 3000, 2, createRng(8));
    let s = 0;
    for (let i = 0; i < 3000; i++) s += wide[i * DIM]! ** 2;
    assert.ok(Math.abs(Math.sqrt(s / 3000) - 2) < 0.15);
  });

  test('few points get fewer components; duplicates do not break the factorisation', () => {
    assert.equal(componentsFor(50, 8), 1);
    assert.equal(componentsFor(350, 8), 3);
    assert.equal(componentsFor(6000, 8), 8);
    const same = new Float64Array(20 * DIM).fill(0.5);
    const fit = fitGaussianMixture(same, DIM, 1, createRng(1));
    assert.ok(fit.choleskys[0]!.every(Number.isFinite));
    assert.ok(Number.isFinite(mixtureLogLikelihood(fit, same, DIM)));
  });

  test('a malformed stored density is rejected naming the file', () => {
    const good = { kind: 'gaussian-mixture', latentDim: DIM, components: 2, digits: Array.from({ length: 10 }, truth), samplesPerDigit: new Array(10).fill(1) };
    assert.equal(validateLatentPrior(good, DIM, 'meta.json').digits.length, 10);
    assert.throws(() => validateLatentPrior({ ...good, latentDim: 8 }, DIM, '/ck/meta.json'), (e: unknown) => e instanceof CheckpointError && /^\/ck\/meta.json: latent density is malformed \(latentDim 8/.test(e.message));
    const badWeights = { ...good, digits: good.digits.map((m, i) => (i === 4 ? { ...m, weights: [0.5, 0.6] } : m)) };
    assert.throws(() => validateLatentPrior(badWeights, DIM, 'meta.json'), /digit 4: weights do not sum to 1/);
  });

  test('held-out selection: a 2-component truth scores higher with K=2 than K=1 on held-out codes of every digit', async () => {
    const codes = (n: number, seed: number) => {
      const labels = new Uint8Array(n).map((_, i) => i % 10);
      const out = new Float32Array(n * DIM);
      const rng = createRng(seed);
      labels.forEach((digit, i) => {
        const z = sampleMixture(truth(), 1, 1, rng);
        z[1]! += digit * 10; // each digit elsewhere
        out.set(z, i * DIM);
      });
      return { codes: out, labels };
    };
    const fit = codes(3000, 1);
    const heldOut = codes(1000, 2);
    const [k1, k2] = await Promise.all([1, 2].map(async (K) => heldOutLogLikelihood((await fitDigitMixtures(fit.codes, fit.labels, DIM, { components: K }))!.digits, heldOut.codes, heldOut.labels, DIM)));
    assert.ok(k2! > k1! + 0.5, `K=2 ${k2} vs K=1 ${k1}`);
  });
});
