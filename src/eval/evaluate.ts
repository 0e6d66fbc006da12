/**
 * One full evaluation of a trained CVAE: test-set reconstruction, per-digit recognisability of
 * generated samples for each sampler, and the Frechet distance of generated to test images in the
 * classifier's feature space. No printing: `cvae-repl eval` formats the result (./report.ts).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { MnistSet } from '../engine/data.js';
import type { BackendName, CheckpointSummary, DigitGenerator, GrayImage, SamplerName } from '../engine/types.js';
import { scoreExplore, type ExplorePlans, type ExploreScore, type PlanDecoder, type ProbabilityClassifier } from './explore.js';
import { FeatureMoments, type GaussianStats } from './frechet.js';
import { scoreSampler, type ImageClassifier, type SamplerScore } from './recognisability.js';
import { measureReconstruction, type Reconstruction } from '../engine/reconstruction.js';

export interface EvaluationInputs {
  readonly encoder: tfl.LayersModel;
  readonly decoder: tfl.LayersModel;
  readonly generator: DigitGenerator;
  readonly classifier: ImageClassifier;
  readonly test: MnistSet;
  /** The prompt's :style, :morph and :walk plans, to score them too (./explore.ts). */
  readonly explore?: { readonly planner: ExplorePlans; readonly decode: PlanDecoder; readonly classifier: ProbabilityClassifier };
}

export interface EvaluationOptions {
  samplesPerDigit: number;
  seed: number;
  /** Default both; `fitted` is skipped when the checkpoint has no fitted density (it would silently be `prior`). */
  samplers?: readonly SamplerName[];
  onStatus?(message: string): void;
}

/** Everything `cvae-repl eval` reports. */
export interface Evaluation {
  readonly checkpoint: CheckpointSummary;
  readonly backend: BackendName;
  readonly seed: number;
  /** The classifier's accuracy on the test set, measured in this run (a check on the judge). */
  readonly classifierTestAccuracy: number;
  readonly reconstruction: Omit<Reconstruction, 'examples'>;
  /** The first 10 test images and their sampled-z reconstructions (the notebook's figure). */
  readonly figure: { readonly originals: readonly GrayImage[]; readonly reconstructions: readonly GrayImage[] };
  readonly samplers: readonly SamplerScore[];
  /** Samplers asked for but not available, with why. */
  readonly skipped: readonly { readonly sampler: SamplerName; readonly reason: string }[];
  /** :style, :morph and :walk over seeds seed..seed+9, or null when not asked for. */
  readonly explore: ExploreScore | null;
  readonly seconds: number;
}

/** Runs the whole evaluation. */
export async function evaluate(inputs: EvaluationInputs, options: EvaluationOptions): Promise<Evaluation> {
  const started = performance.now();
  const { classifier, test, generator } = inputs;
  const status = options.onStatus ?? (() => undefined);

  status(`classifying the ${test.count} test images`);
  const judged = await classifier.classify(test.images, test.count);
  let correct = 0;
  for (let i = 0; i < test.count; i++) if (judged.labels[i] === test.labels[i]) correct++;
  const moments = new FeatureMoments(classifier.featureDim);
  moments.add(judged.features, test.count);
  const reference: GaussianStats = moments.stats();

  status(`reconstructing the ${test.count} test images`);
  const { examples, ...reconstruction } = await measureReconstruction({ encoder: inputs.encoder, decoder: inputs.decoder }, test, { seed: options.seed, keep: 10, atMean: true });
  const originals: GrayImage[] = [];
  for (let i = 0; i < Math.min(10, test.count); i++) originals.push({ width: 28, height: 28, pixels: test.images.slice(i * 784, (i + 1) * 784) });

  const samplers: SamplerScore[] = [];
  const skipped: { sampler: SamplerName; reason: string }[] = [];
  for (const sampler of options.samplers ?? (['fitted', 'prior'] as const)) {
    if (sampler === 'fitted' && !generator.checkpoint.hasFittedPrior) {
      skipped.push({ sampler, reason: 'the checkpoint has no fitted latent density' });
      continue;
    }
    status(`generating ${options.samplesPerDigit} samples per digit with the ${sampler} sampler`);
    let lastShown = 0;
    samplers.push(
      await scoreSampler(generator, classifier, reference, {
        sampler,
        samplesPerDigit: options.samplesPerDigit,
        seed: options.seed,
        onProgress: (done, total) => {
          if (done - lastShown >= total / 5 || done === total) {
            lastShown = done;
            status(`  ${sampler}: ${done}/${total}`);
          }
        },
      }),
    );
  }

  let explore: ExploreScore | null = null;
  if (inputs.explore !== undefined) {
    status('scoring :style, :morph and :walk over 10 seeds');
    // Ordinary samples of each digit, to compare how much :style rows differ with how much samples do.
    const sampler: SamplerName = generator.checkpoint.hasFittedPrior ? 'fitted' : 'prior';
    explore = await scoreExplore(inputs.explore.planner, inputs.explore.decode, inputs.explore.classifier, {
      seed: options.seed,
      reference: (digit, n, rng) => generator.generate(digit, n, { sampler, seed: rng.int(2 ** 31) }),
    });
  }

  return {
    checkpoint: generator.checkpoint,
    backend: generator.backend,
    seed: options.seed,
    classifierTestAccuracy: correct / test.count,
    reconstruction,
    figure: { originals, reconstructions: examples.map((pixels) => ({ width: 28, height: 28, pixels })) },
    samplers,
    skipped,
    explore,
    seconds: (performance.now() - started) / 1000,
  };
}
