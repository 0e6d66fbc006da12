/**
 * How `:style`, `:morph` and `:walk` choose their latent codes, measured: each candidate principle
 * is plugged into the prompt's own plans (src/explore/codes.ts) and scored by the shipped classifier
 * with `scoreExplore` (the metrics `cvae-repl eval` reports), over 10 seeds from --seed.
 *
 *   nice -n 19 node --import tsx tools/explore-principles.ts [--seed 1001] [--checkpoint DIR] [--only NAME,...] [--json]
 *
 * Choose with held-out seeds (default 1001-1010), report with eval's seeds 1-10.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.js';
import { loadCheckpoint } from '../src/engine/checkpoint.js';
import { loadMnist, PIXELS } from '../src/engine/data.js';
import { drawLatents } from '../src/engine/generator.js';
import { encodeLatentMeans } from '../src/engine/prior.js';
import type { Rng } from '../src/engine/rng.js';
import { loadClassifier } from '../src/eval/classifier.js';
import { scoreExplore, type ExploreScore } from '../src/eval/explore.js';
import { explorePlanner, gaussianCodes, latentGeometry, morphLabels, STRIP_STEPS, type ExplorePlanner, type StyleCodeSource } from '../src/engine/latent-codes.js';
import { createReplModel } from '../src/explore/model.js';
import { SHIPPED_CHECKPOINT, SHIPPED_CLASSIFIER } from '../src/config/paths.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1001' },
    seeds: { type: 'string', default: '10' },
    checkpoint: { type: 'string', default: SHIPPED_CHECKPOINT },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const seed = Number(values.seed);
const seeds = Number(values.seeds);

const backend = await initBackend('wasm');
const { encoder, decoder, meta, dir } = await loadCheckpoint(values.checkpoint);
if (meta.prior === null) throw new Error(`${dir} has no fitted density`);
const prior = meta.prior;
const dim = meta.model.latentDim;
const model = createReplModel(encoder, decoder, meta, dir, backend);
const classifier = await loadClassifier(SHIPPED_CLASSIFIER);
const geometry = latentGeometry(prior);
const decode = model.latent.decode;

/** The plans the prompt drew before this change: fitted draws of a random digit (style), of A (morph), of D (walk). */
const statusQuo: ExplorePlanner = {
  dim,
  async style(rows, rng) {
    const z = new Float32Array(rows * 10 * dim);
    const labels = new Float32Array(rows * 100);
    for (let r = 0; r < rows; r++) {
      const code = drawLatents(prior, 'fitted', rng.int(10), 1, 1, dim, rng);
      for (let d = 0; d < 10; d++) {
        z.set(code, (r * 10 + d) * dim);
        labels[(r * 10 + d) * 10 + d] = 1;
      }
    }
    return { z, labels, count: rows * 10 };
  },
  async morph(from, to, rng) {
    const code = drawLatents(prior, 'fitted', from, 1, 1, dim, rng);
    const z = new Float32Array(STRIP_STEPS * dim);
    for (let i = 0; i < STRIP_STEPS; i++) z.set(code, i * dim);
    return { z, labels: morphLabels(from, to), count: STRIP_STEPS };
  },
  async walk(digit, rng) {
    const ends = drawLatents(prior, 'fitted', digit, 2, 1, dim, rng);
    const z = new Float32Array(STRIP_STEPS * dim);
    for (let i = 0; i < STRIP_STEPS; i++) {
      const t = i / (STRIP_STEPS - 1);
      for (let j = 0; j < dim; j++) z[i * dim + j] = (1 - t) * ends[j]! + t * ends[dim + j]!;
    }
    const labels = new Float32Array(STRIP_STEPS * 10);
    for (let i = 0; i < STRIP_STEPS; i++) labels[i * 10 + digit] = 1;
    return { z, labels, count: STRIP_STEPS };
  },
};

const priorSource = (scale: number): StyleCodeSource => (n, rng) => gaussianCodes(new Float64Array(dim), null, dim, n, scale, rng);
const centreSource = (scale: number, spread: 'within' | 'aggregate'): StyleCodeSource => (n, rng) => gaussianCodes(geometry.centre, geometry[spread], dim, n, scale, rng);
const fittedAnyDigit: StyleCodeSource = (n, rng) => {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) out.set(drawLatents(prior, 'fitted', rng.int(10), 1, 1, dim, rng), i * dim);
  return out;
};

/** Best of `k` candidates from `base`: the one whose worst label (decoded with each of 0-9) the classifier is most sure of. */
const selectSource = (base: StyleCodeSource, k: number): StyleCodeSource => async (n, rng) => {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const candidates = await base(k, rng);
    const z = new Float32Array(k * 10 * dim);
    const labels = new Float32Array(k * 100);
    for (let c = 0; c < k; c++) {
      for (let d = 0; d < 10; d++) {
        z.set(candidates.subarray(c * dim, (c + 1) * dim), (c * 10 + d) * dim);
        labels[(c * 10 + d) * 10 + d] = 1;
      }
    }
    const images = await decode(z, labels);
    const pixels = new Float32Array(images.length * PIXELS);
    images.forEach((im, j) => pixels.set(im.pixels, j * PIXELS));
    const p = await classifier.probabilities(pixels, images.length);
    let best = 0;
    let bestScore = -1;
    for (let c = 0; c < k; c++) {
      let worst = 1;
      for (let d = 0; d < 10; d++) worst = Math.min(worst, p[(c * 10 + d) * 10 + d]!);
      if (worst > bestScore) [best, bestScore] = [c, worst];
    }
    out.set(candidates.subarray(best * dim, (best + 1) * dim), i * dim);
  }
  return out;
};

// Encoded digits: z_mean of a random held-out training image (50,000-59,999, as tools/select-on-held-out.ts;
// the test set only reports) with its true label, minus its digit's mean, plus the centre.
// Loaded only when an encoded candidate runs.
let heldOut: Promise<{ labels: Uint8Array; codes: Float32Array }> | undefined;
const encodedHeldOut = () =>
  (heldOut ??= loadMnist('train').then(async (train) => {
    const set = { ...train, count: 10_000, images: train.images.subarray(50_000 * PIXELS), labels: train.labels.subarray(50_000) };
    return { labels: set.labels, codes: await encodeLatentMeans(encoder, set, dim) };
  }));
const encodedSource = (scale: number): StyleCodeSource => async (n, rng: Rng) => {
  const { labels, codes: testCodes } = await encodedHeldOut();
  const test = { count: labels.length, labels };
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const index = rng.int(test.count);
    const mu = geometry.digitMeans[test.labels[index]!]!;
    for (let j = 0; j < dim; j++) out[i * dim + j] = geometry.centre[j]! + scale * (testCodes[index * dim + j]! - mu[j]!);
  }
  return out;
};

const candidates: Array<[string, () => ExplorePlanner]> = [
  ['before: fitted draws (status quo)', () => statusQuo],
  ...[1, 0.5, 0.35, 0.3, 0.25, 0.2].map((s): [string, () => ExplorePlanner] => [`prior N(0, ${s}^2 I)`, () => explorePlanner(priorSource(s), dim)]),
  ['centre of the codes, no spread', () => explorePlanner(centreSource(0, 'within'), dim)],
  ...[0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1].map((s): [string, () => ExplorePlanner] => [`centre + ${s} x within-digit spread`, () => explorePlanner(centreSource(s, 'within'), dim)]),
  ...[0.25, 0.5].map((s): [string, () => ExplorePlanner] => [`centre + ${s} x spread of all codes`, () => explorePlanner(centreSource(s, 'aggregate'), dim)]),
  ...[1, 0.5].map((s): [string, () => ExplorePlanner] => [`encoded held-out digit - its digit mean (x${s}) + centre`, () => explorePlanner(encodedSource(s), dim)]),
  ['classifier: best of 16 fitted draws', () => explorePlanner(selectSource(fittedAnyDigit, 16), dim)],
  ['classifier: best of 16 N(0, I) draws', () => explorePlanner(selectSource(priorSource(1), 16), dim)],
];

const only = values.only?.split(',').map((s) => s.trim().toLowerCase());
const reference = (digit: number, n: number, rng: Rng) => decode(drawLatents(prior, 'fitted', digit, n, 1, dim, rng), (() => {
  const l = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) l[i * 10 + digit] = 1;
  return l;
})());

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const results: Array<{ name: string; score: ExploreScore; seconds: number }> = [];
if (!values.json) console.log(`seeds ${seed}-${seed + seeds - 1}, ${dir}, judge ${SHIPPED_CLASSIFIER}\n| principle | style tiles recognised | style row difference (fitted samples: ref) | morph endpoints | morph monotone (no drop > 0.05) | morph largest drop | p(B) > 1/2 from tile | walk tiles recognised | s |\n|---|---|---|---|---|---|---|---|---|`);
for (const [name, make] of candidates) {
  if (only !== undefined && !only.some((o) => name.toLowerCase().includes(o))) continue;
  const started = performance.now();
  const score = await scoreExplore(make(), decode, classifier, { seed, seeds, reference });
  const seconds = (performance.now() - started) / 1000;
  results.push({ name, score, seconds });
  if (!values.json) {
    const s = score.style;
    console.log(
      `| ${name} | ${pct(s.recognised)} (min label ${pct(Math.min(...s.perLabel))}) | ${s.rowDifference.toFixed(3)} (${s.referenceDifference?.toFixed(3)}) | ${pct(score.morph.endpoints)} | ${pct(score.morph.monotone)} | ${score.morph.meanLargestDrop.toFixed(3)} | ${score.morph.meanCrossing.toFixed(1)} | ${pct(score.walk.recognised)} (min digit ${pct(Math.min(...score.walk.perDigit))}) | ${seconds.toFixed(0)} |`,
    );
  }
}
if (values.json) console.log(JSON.stringify({ seed, seeds, checkpoint: dir, results }));
classifier.dispose();
model.dispose();
