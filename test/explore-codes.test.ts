/**
 * Where :style, :morph and :walk take their codes from (src/explore/codes.ts) and how eval scores
 * them (src/eval/explore.ts), on synthetic densities and fake models: no checkpoint needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LatentPrior } from '../src/engine/prior.js';
import { createRng } from '../src/engine/rng.js';
import type { GrayImage } from '../src/engine/types.js';
import { scoreExplore, type PlanDecoder, type ProbabilityClassifier } from '../src/eval/explore.js';
import { centreStyleCodes, explorePlanner, latentGeometry, morphLabels, PRIOR_FALLBACK_SCALE, STRIP_STEPS, STYLE_SPREAD, type ExplorePlanner } from '../src/engine/latent-codes.js';
import { createSession } from '../src/explore/session.js';
import { createFakeGenerator } from './fake-generator.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** Two digits in 2-d: digit 0 one component, digit 1 two; 100 and 300 training codes. */
const prior: LatentPrior = {
  kind: 'gaussian-mixture',
  latentDim: 2,
  components: 2,
  digits: [
    { weights: [1], means: [[2, 0]], choleskys: [[1, 0, 0, 2]] },
    { weights: [0.5, 0.5], means: [[0, 2], [0, 4]], choleskys: [[1, 0, 0, 1], [1, 0, 0, 1]] },
  ],
  samplesPerDigit: [100, 300],
};

/** L L^T of a row-major lower factor. */
function product(L: readonly number[], dim: number): number[] {
  const out = new Array<number>(dim * dim).fill(0);
  for (let r = 0; r < dim; r++) for (let c = 0; c < dim; c++) for (let k = 0; k < dim; k++) out[r * dim + c]! += L[r * dim + k]! * L[c * dim + k]!;
  return out;
}

test('latentGeometry: the centre of all codes, the pooled within-digit covariance and the total covariance of the fitted mixtures', () => {
  const g = latentGeometry(prior);
  // centre = 1/4 (2, 0) + 3/4 (0, 3); digit 1's mean is (0, 3), its covariance I + diag(0, 1).
  assert.deepEqual(Array.from(g.centre), [0.5, 2.25]);
  assert.deepEqual(Array.from(g.digitMeans[1]!), [0, 3]);
  const within = product(g.within, 2);
  [1, 0, 0, 2.5].forEach((v, i) => close(within[i]!, v, 1e-12, `within[${i}]`));
  // Total = within + 1/4 (1.5, -2.25)(1.5, -2.25)^T + 3/4 (-0.5, 0.75)(-0.5, 0.75)^T.
  const total = product(g.aggregate, 2);
  [1.75, -1.125, -1.125, 4.1875].forEach((v, i) => close(total[i]!, v, 1e-12, `total[${i}]`));
});

test('style codes are drawn around the centre with STYLE_SPREAD x scale x the within-digit spread (N(0, (PRIOR_FALLBACK_SCALE scale)^2 I) without a density)', () => {
  const n = 40000;
  const moments = (z: Float32Array) => {
    const m = [0, 0];
    for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) m[j]! += z[i * 2 + j]! / n;
    const c = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) for (let r = 0; r < 2; r++) for (let s = 0; s < 2; s++) c[r * 2 + s]! += ((z[i * 2 + r]! - m[r]!) * (z[i * 2 + s]! - m[s]!)) / n;
    return { m, c };
  };
  for (const scale of [1, 2]) {
    const { m, c } = moments(centreStyleCodes(latentGeometry(prior), 2, scale)(n, createRng(3)) as Float32Array);
    const k = (STYLE_SPREAD * scale) ** 2;
    close(m[0]!, 0.5, 0.02 * scale, 'mean 0');
    close(m[1]!, 2.25, 0.02 * scale, 'mean 1');
    close(c[0]!, k * 1, 0.05 * k, 'var 0');
    close(c[3]!, k * 2.5, 0.05 * k * 2.5, 'var 1');
    close(c[1]!, 0, 0.05 * k, 'cov');
  }
  const { m, c } = moments(centreStyleCodes(null, 2, 1)(n, createRng(3)) as Float32Array);
  close(m[0]!, 0, 0.01, 'fallback mean');
  close(c[0]!, PRIOR_FALLBACK_SCALE ** 2, 0.05 * PRIOR_FALLBACK_SCALE ** 2, 'fallback var');
});

test('plans: :style repeats one code per row over labels 0-9, :morph blends A into B on one code, :walk lies on the line between two codes', async () => {
  const dim = 3;
  let drawn = 0;
  // Code i is (i, i, i): easy to recognise.
  const planner = explorePlanner((n) => {
    const z = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) z.fill(++drawn, i * dim, (i + 1) * dim);
    return z;
  }, dim);
  const rng = createRng(1);
  const style = await planner.style(3, rng);
  assert.equal(style.count, 30);
  for (let i = 0; i < 30; i++) {
    assert.deepEqual(Array.from(style.labels.subarray(i * 10, i * 10 + 10)), Array.from({ length: 10 }, (_, d) => (d === i % 10 ? 1 : 0)));
    assert.deepEqual(Array.from(style.z.subarray(i * dim, (i + 1) * dim)), new Array(dim).fill(Math.floor(i / 10) + 1));
  }
  const morph = await planner.morph(2, 7, rng);
  assert.equal(morph.count, STRIP_STEPS);
  assert.ok(Array.from(morph.z).every((v) => v === 4));
  assert.deepEqual(Array.from(morph.labels.subarray(0, 10)), [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(morph.labels.subarray(90, 100)), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
  for (let i = 1; i < STRIP_STEPS; i++) {
    assert.ok(morph.labels[i * 10 + 7]! > morph.labels[(i - 1) * 10 + 7]!, 'the weight of B rises');
    close(morph.labels[i * 10 + 2]! + morph.labels[i * 10 + 7]!, 1, 1e-6, 'weights sum to 1');
  }
  assert.deepEqual(Array.from(morphLabels(4, 4)), Array.from({ length: 100 }, (_, i) => (i % 10 === 4 ? 1 : 0)), 'A to A is A ten times');
  const walk = await planner.walk(5, rng);
  assert.deepEqual(Array.from(walk.z.subarray(0, dim)), [5, 5, 5]);
  assert.deepEqual(Array.from(walk.z.subarray(9 * dim)), [6, 6, 6]);
  close(walk.z[4 * dim]!, 5 + 4 / 9, 1e-6, 'tile 4 on the line');
  assert.deepEqual(Array.from(walk.labels), Array.from({ length: 100 }, (_, i) => (i % 10 === 5 ? 1 : 0)));
});

test('the session draws exactly the planned pictures (what eval scores is what the prompt shows)', async () => {
  const model = createFakeGenerator();
  const session = createSession({ model, settings: { grid: 3, sampler: 'prior', scale: 1, seed: 7 } });
  const planner = explorePlanner(centreStyleCodes(model.latent.geometry, model.latent.latentDim, 1), model.latent.latentDim);
  const expect = async (plan: ReturnType<ExplorePlanner['style']>) => {
    const p = await plan;
    return (await model.latent.decode(p.z, p.labels)).map((t) => Array.from(t.pixels));
  };
  const shown = async (line: { kind: 'style'; rows: number } | { kind: 'morph'; from: number; to: number } | { kind: 'walk'; digit: number }) => {
    const [out] = await session.run({ kind: 'command', command: line });
    assert.ok(out?.kind === 'picture');
    return out.picture.tiles.map((t) => Array.from(t.pixels));
  };
  assert.deepEqual(await shown({ kind: 'style', rows: 3 }), await expect(planner.style(3, createRng(7, 'style', 0))));
  assert.deepEqual(await shown({ kind: 'morph', from: 1, to: 6 }), await expect(planner.morph(1, 6, createRng(7, 'morph', 1))));
  assert.deepEqual(await shown({ kind: 'walk', digit: 8 }), await expect(planner.walk(8, createRng(7, 'walk', 2))));
});

/** A fake decoder that writes the label weights into pixels 0-9, and a fake classifier that reads them back as probabilities. */
const labelDecoder: PlanDecoder = async (z, labels) =>
  Array.from({ length: labels.length / 10 }, (_, i): GrayImage => {
    const pixels = new Float32Array(784);
    pixels.set(labels.subarray(i * 10, i * 10 + 10));
    pixels[10] = z[i * 2]!; // the style
    return { width: 28, height: 28, pixels };
  });
const labelReader: ProbabilityClassifier = {
  async probabilities(images, count) {
    const p = new Float32Array(count * 10);
    for (let i = 0; i < count; i++) p.set(images.subarray(i * 784, i * 784 + 10), i * 10);
    return p;
  },
};

test('scoreExplore: perfect plans score 100%, a wrong label, a reversed morph and one style for every row show up', async () => {
  let code = 0;
  const good = explorePlanner((n) => Float32Array.from({ length: n * 2 }, () => code++), 2);
  const perfect = await scoreExplore(good, labelDecoder, labelReader, { seed: 1, seeds: 3, styleRows: 4, morphPairs: 7 });
  assert.equal(perfect.style.tiles, 120);
  assert.equal(perfect.style.recognised, 1);
  assert.equal(perfect.morph.strips, 21);
  assert.deepEqual([perfect.morph.endpoints, perfect.morph.monotone, perfect.morph.meanLargestDrop], [1, 1, 0]);
  // p(B) = t = i / 9 passes 1/2 at tile 5.
  assert.equal(perfect.morph.meanCrossing, 5);
  perfect.morph.meanProbability.forEach((p, i) => close(p, i / 9, 1e-6, `p(B) at ${i}`));
  assert.deepEqual([perfect.walk.tiles, perfect.walk.recognised], [300, 1]);
  assert.ok(perfect.style.rowDifference > 0, 'rows differ');
  assert.equal(perfect.style.referenceDifference, null);

  // Label 3 decoded as a 4; morphs run backwards (B into A); walks of 9 drawn as 0.
  const bad: ExplorePlanner = {
    dim: 2,
    async style(rows, rng) {
      const plan = await good.style(rows, rng);
      const labels = plan.labels.slice();
      for (let i = 3; i < plan.count; i += 10) [labels[i * 10 + 3], labels[i * 10 + 4]] = [0, 1];
      return { ...plan, labels };
    },
    async morph(from, to, rng) {
      return good.morph(to, from, rng);
    },
    async walk(digit, rng) {
      return good.walk(digit === 9 ? 0 : digit, rng);
    },
  };
  const wrong = await scoreExplore(bad, labelDecoder, labelReader, { seed: 1, seeds: 3, styleRows: 4, morphPairs: 7 });
  assert.equal(wrong.style.perLabel[3], 0);
  close(wrong.style.recognised, 0.9, 1e-9, 'style');
  assert.deepEqual([wrong.morph.endpoints, wrong.morph.monotone], [0, 0]);
  close(wrong.morph.meanLargestDrop, 1 / 9, 1e-6, 'largest drop');
  assert.equal(wrong.morph.meanCrossing, 0, 'p(B) starts at 1');
  assert.equal(wrong.walk.perDigit[9], 0);
  close(wrong.walk.recognised, 0.9, 1e-9, 'walk');

  // One code for every row: the rows do not differ; a reference gives the ordinary variation.
  const collapsed = explorePlanner((n) => new Float32Array(n * 2).fill(0.5), 2);
  const one = await scoreExplore(collapsed, labelDecoder, labelReader, {
    seed: 1,
    seeds: 2,
    reference: async (digit, n, rng) => labelDecoder(Float32Array.from({ length: n * 2 }, () => rng.uniform()), Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === digit ? 1 : 0))),
  });
  assert.equal(one.style.rowDifference, 0);
  assert.ok(one.style.referenceDifference! > 0);
  await assert.rejects(scoreExplore(good, labelDecoder, labelReader, { seed: 1, seeds: 0 }), /explore seeds must be a whole number >= 1, got 0/);
});
