/**
 * How often a generated digit is the digit that was asked for, judged by the classifier, and how far
 * the generated images are from real ones in the classifier's feature space (Frechet distance).
 */
import { PIXELS } from '../engine/data.js';
import { deriveSeed } from '../engine/rng.js';
import type { DigitGenerator, SamplerName } from '../engine/types.js';
import type { ClassifierOutput } from './classifier.js';
import { EvalError } from './errors.js';
import { FeatureMoments, frechetDistance, type GaussianStats } from './frechet.js';

/** The part of Classifier that scoring needs (tests pass a fake). */
export interface ImageClassifier {
  readonly featureDim: number;
  classify(images: Float32Array, count: number): Promise<ClassifierOutput>;
}

/** One sampler's scores over all ten digits. */
export interface SamplerScore {
  readonly sampler: SamplerName;
  readonly samplesPerDigit: number;
  /** Share of the samples of digit d the classifier labels d, d = 0..9. */
  readonly perDigit: readonly number[];
  /** Mean of perDigit (equal samples per digit, so also the overall share). */
  readonly mean: number;
  /** confusion[requested][predicted] = count. */
  readonly confusion: readonly (readonly number[])[];
  /** Squared Frechet distance between the generated images (all digits) and the reference set, in feature space. */
  readonly frechet: number;
}

export interface ScoreOptions {
  sampler: SamplerName;
  samplesPerDigit: number;
  /** Base seed; each digit and chunk draws from its own derived stream. */
  seed: number;
  /** Images generated and classified per call (bounds memory). Default 500. */
  chunk?: number;
  onProgress?(done: number, total: number): void;
}

/** Generates `samplesPerDigit` images of each digit with one sampler and scores them against `reference` (test-set feature statistics). */
export async function scoreSampler(generator: DigitGenerator, classifier: ImageClassifier, reference: GaussianStats, options: ScoreOptions): Promise<SamplerScore> {
  const { sampler, samplesPerDigit } = options;
  if (!(Number.isInteger(samplesPerDigit) && samplesPerDigit >= 2)) throw new EvalError(`samples per digit must be a whole number >= 2, got ${samplesPerDigit}`);
  if (reference.dim !== classifier.featureDim) throw new EvalError(`reference statistics have ${reference.dim} features, the classifier ${classifier.featureDim}`);
  const chunk = Math.max(1, options.chunk ?? 500);
  const moments = new FeatureMoments(classifier.featureDim);
  const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  let done = 0;
  for (let digit = 0; digit < 10; digit++) {
    for (let start = 0, part = 0; start < samplesPerDigit; start += chunk, part++) {
      const n = Math.min(chunk, samplesPerDigit - start);
      const images = await generator.generate(digit, n, { sampler, seed: deriveSeed(options.seed, 'eval', sampler, digit, part) });
      if (images.length !== n) throw new EvalError(`the generator returned ${images.length} images of digit ${digit}, asked for ${n}`);
      const pixels = new Float32Array(n * PIXELS);
      images.forEach((image, i) => {
        if (image.pixels.length !== PIXELS) throw new EvalError(`the generator returned a ${image.width}x${image.height} image; the classifier needs 28x28`);
        pixels.set(image.pixels, i * PIXELS);
      });
      const out = await classifier.classify(pixels, n);
      for (let i = 0; i < n; i++) confusion[digit]![out.labels[i]!]!++;
      moments.add(out.features, n);
      done += n;
      options.onProgress?.(done, 10 * samplesPerDigit);
    }
  }
  const perDigit = confusion.map((row, digit) => row[digit]! / samplesPerDigit);
  return {
    sampler,
    samplesPerDigit,
    perDigit,
    mean: perDigit.reduce((a, b) => a + b, 0) / 10,
    confusion,
    frechet: frechetDistance(moments.stats(), reference),
  };
}
