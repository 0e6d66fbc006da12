/**
 * Do `:style`, `:morph` and `:walk` show what they promise? Scores the prompt's own plans
 * (src/explore/codes.ts) with the classifier, over several seeds:
 *   - style: share of `:style` tiles recognised as the label they were decoded with, and how much the
 *     rows differ (so a planner that draws one handwriting for every row shows up);
 *   - morph: share of strip ends recognised as A (first tile) and B (last tile), over random ordered
 *     pairs A != B, and whether the classifier's probability of B rises along the strip;
 *   - walk: share of `:walk D` tiles recognised as D.
 */
import { NUM_CLASSES, PIXELS } from '../engine/data.js';
import { createRng, type Rng } from '../engine/rng.js';
import type { GrayImage } from '../engine/types.js';
import { EvalError } from './errors.js';

/** What one prompt command decodes: codes [count * dim] and label weights [count * 10]. */
export interface DecodePlan {
  readonly z: Float32Array;
  readonly labels: Float32Array;
  readonly count: number;
}

/** The prompt's plans (src/explore/codes.ts makes them; eval sits below explore/ and only scores them). */
export interface ExplorePlans {
  /** `rows` codes, each decoded with the labels 0-9, 10 per row. */
  style(rows: number, rng: Rng): Promise<DecodePlan>;
  /** One strip from A (first tile) to B (last tile). */
  morph(from: number, to: number, rng: Rng): Promise<DecodePlan>;
  /** One strip, every tile labelled `digit`. */
  walk(digit: number, rng: Rng): Promise<DecodePlan>;
}

/** The part of the classifier the explore metrics need (tests pass a fake). */
export interface ProbabilityClassifier {
  /** Row-major [count * 10]. */
  probabilities(images: Float32Array, count: number): Promise<Float32Array>;
}

export type PlanDecoder = (z: Float32Array, labels: Float32Array) => Promise<GrayImage[]>;

export interface ExploreOptions {
  /** Seeds seed, seed + 1, ..., seed + seeds - 1, each its own picture per command. */
  seed: number;
  /** Default 10. */
  seeds?: number;
  /** `:style` rows per seed; default 4 (the command's default). */
  styleRows?: number;
  /** Random ordered pairs A != B per seed; default 10. */
  morphPairs?: number;
  /** A strip counts as monotone when no step lowers p(B) by more than this; default 0.05. */
  monotoneTolerance?: number;
  /** Reference handwriting variation: `n` ordinary samples of `digit` (the fitted sampler), for the style-diversity ratio. */
  reference?(digit: number, n: number, rng: Rng): Promise<GrayImage[]>;
}

export interface ExploreScore {
  readonly seeds: number;
  readonly firstSeed: number;
  readonly style: {
    readonly rowsPerSeed: number;
    readonly tiles: number;
    /** Share of tiles the classifier labels as their label. */
    readonly recognised: number;
    /** Index = label. */
    readonly perLabel: readonly number[];
    /** Mean RMS pixel difference between two rows' tiles of the same label (same seed). */
    readonly rowDifference: number;
    /** The same between two ordinary samples of the digit, when a reference is given; else null. */
    readonly referenceDifference: number | null;
  };
  readonly morph: {
    readonly strips: number;
    /** Share of first tiles recognised as A and last tiles as B (2 per strip). */
    readonly endpoints: number;
    readonly starts: number;
    readonly ends: number;
    /** Share of strips along which p(B) never drops by more than the tolerance from one tile to the next. */
    readonly monotone: number;
    readonly tolerance: number;
    /** Mean over strips of the largest drop of p(B) between neighbouring tiles (0 = monotone). */
    readonly meanLargestDrop: number;
    /** Mean over strips of the first tile (0-based) where p(B) > 1/2; the strip's length when none. */
    readonly meanCrossing: number;
    /** Mean p(B) per tile, one value per tile of a strip. */
    readonly meanProbability: readonly number[];
  };
  readonly walk: {
    readonly strips: number;
    readonly tiles: number;
    readonly recognised: number;
    /** Index = digit. */
    readonly perDigit: readonly number[];
  };
}

function pixelsOf(images: readonly GrayImage[], count: number): Float32Array {
  if (images.length !== count) throw new EvalError(`the decoder returned ${images.length} images, asked for ${count}`);
  const out = new Float32Array(count * PIXELS);
  images.forEach((image, i) => {
    if (image.pixels.length !== PIXELS) throw new EvalError(`the decoder returned a ${image.width}x${image.height} image; the classifier needs 28x28`);
    out.set(image.pixels, i * PIXELS);
  });
  return out;
}

const argmax = (p: Float32Array, row: number): number => {
  let best = 0;
  for (let d = 1; d < NUM_CLASSES; d++) if (p[row * NUM_CLASSES + d]! > p[row * NUM_CLASSES + best]!) best = d;
  return best;
};

const rms = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
};

/** Mean pairwise RMS difference of the images in each group. */
function meanPairwise(groups: readonly (readonly GrayImage[])[]): { sum: number; pairs: number } {
  let sum = 0;
  let pairs = 0;
  for (const g of groups) {
    for (let i = 0; i < g.length; i++) {
      for (let j = i + 1; j < g.length; j++) {
        sum += rms(g[i]!.pixels, g[j]!.pixels);
        pairs++;
      }
    }
  }
  return { sum, pairs };
}

/** Scores the planner's pictures, decoded with `decode`, by `classifier`. */
export async function scoreExplore(planner: ExplorePlans, decode: PlanDecoder, classifier: ProbabilityClassifier, options: ExploreOptions): Promise<ExploreScore> {
  const seeds = options.seeds ?? 10;
  const rows = options.styleRows ?? 4;
  const pairs = options.morphPairs ?? 10;
  const tolerance = options.monotoneTolerance ?? 0.05;
  if (!(Number.isInteger(seeds) && seeds >= 1)) throw new EvalError(`explore seeds must be a whole number >= 1, got ${seeds}`);
  if (!(Number.isInteger(rows) && rows >= 1)) throw new EvalError(`style rows must be a whole number >= 1, got ${rows}`);
  if (!(Number.isInteger(pairs) && pairs >= 1)) throw new EvalError(`morph pairs must be a whole number >= 1, got ${pairs}`);

  const run = async (plan: DecodePlan): Promise<{ images: GrayImage[]; p: Float32Array }> => {
    const images = await decode(plan.z, plan.labels);
    return { images, p: await classifier.probabilities(pixelsOf(images, plan.count), plan.count) };
  };

  const styleHits = new Array<number>(NUM_CLASSES).fill(0);
  let rowDiff = { sum: 0, pairs: 0 };
  let refDiff = { sum: 0, pairs: 0 };
  let starts = 0;
  let ends = 0;
  let monotone = 0;
  let largestDrop = 0;
  let crossing = 0;
  let steps = 0;
  let meanProbability: number[] = [];
  const walkHits = new Array<number>(NUM_CLASSES).fill(0);
  let walkTiles = 0;

  for (let k = 0; k < seeds; k++) {
    const seed = options.seed + k;
    // style
    const style = await run(await planner.style(rows, createRng(seed, 'explore', 'style')));
    const byLabel: GrayImage[][] = Array.from({ length: NUM_CLASSES }, () => []);
    for (let i = 0; i < style.images.length; i++) {
      const label = i % NUM_CLASSES;
      if (argmax(style.p, i) === label) styleHits[label]!++;
      byLabel[label]!.push(style.images[i]!);
    }
    const d = meanPairwise(byLabel);
    rowDiff = { sum: rowDiff.sum + d.sum, pairs: rowDiff.pairs + d.pairs };
    if (options.reference !== undefined && rows >= 2) {
      const refRng = createRng(seed, 'explore', 'reference');
      const groups: GrayImage[][] = [];
      for (let digit = 0; digit < NUM_CLASSES; digit++) groups.push(await options.reference(digit, rows, refRng));
      const r = meanPairwise(groups);
      refDiff = { sum: refDiff.sum + r.sum, pairs: refDiff.pairs + r.pairs };
    }
    // morph: random ordered pairs A != B
    const pairRng = createRng(seed, 'explore', 'pairs');
    const morphRng = createRng(seed, 'explore', 'morph');
    for (let m = 0; m < pairs; m++) {
      const from = pairRng.int(NUM_CLASSES);
      const to = (from + 1 + pairRng.int(NUM_CLASSES - 1)) % NUM_CLASSES;
      const strip = await run(await planner.morph(from, to, morphRng));
      if (steps === 0) {
        steps = strip.images.length;
        meanProbability = new Array<number>(steps).fill(0);
      }
      if (strip.images.length !== steps || steps < 2) throw new EvalError(`a morph strip has ${strip.images.length} tiles, expected ${Math.max(steps, 2)} or more, the same every time`);
      if (argmax(strip.p, 0) === from) starts++;
      if (argmax(strip.p, steps - 1) === to) ends++;
      let drop = 0;
      let cross = steps;
      for (let i = 0; i < steps; i++) {
        const pb = strip.p[i * NUM_CLASSES + to]!;
        meanProbability[i]! += pb;
        if (cross === steps && pb > 0.5) cross = i;
        if (i > 0) drop = Math.max(drop, strip.p[(i - 1) * NUM_CLASSES + to]! - pb);
      }
      if (drop <= tolerance) monotone++;
      largestDrop += drop;
      crossing += cross;
    }
    // walk: every digit once per seed
    const walkRng = createRng(seed, 'explore', 'walk');
    for (let digit = 0; digit < NUM_CLASSES; digit++) {
      const strip = await run(await planner.walk(digit, walkRng));
      walkTiles += strip.images.length;
      for (let i = 0; i < strip.images.length; i++) if (argmax(strip.p, i) === digit) walkHits[digit]!++;
    }
  }

  const strips = seeds * pairs;
  const walkPerDigit = walkHits.map((h) => h / (walkTiles / NUM_CLASSES));
  const stylePerLabel = styleHits.map((h) => h / (seeds * rows));
  return {
    seeds,
    firstSeed: options.seed,
    style: {
      rowsPerSeed: rows,
      tiles: seeds * rows * NUM_CLASSES,
      recognised: styleHits.reduce((a, b) => a + b, 0) / (seeds * rows * NUM_CLASSES),
      perLabel: stylePerLabel,
      rowDifference: rowDiff.pairs === 0 ? 0 : rowDiff.sum / rowDiff.pairs,
      referenceDifference: refDiff.pairs === 0 ? null : refDiff.sum / refDiff.pairs,
    },
    morph: {
      strips,
      endpoints: (starts + ends) / (2 * strips),
      starts: starts / strips,
      ends: ends / strips,
      monotone: monotone / strips,
      tolerance,
      meanLargestDrop: largestDrop / strips,
      meanCrossing: crossing / strips,
      meanProbability: meanProbability.map((p) => p / strips),
    },
    walk: {
      strips: seeds * NUM_CLASSES,
      tiles: walkTiles,
      recognised: walkHits.reduce((a, b) => a + b, 0) / walkTiles,
      perDigit: walkPerDigit,
    },
  };
}
