/**
 * Chooses the two settings the trainer's finish takes from data, on held-out training images, never the
 * test set (which only reports):
 *   - DEFAULT_PRIOR_COMPONENTS (src/engine/prior.ts): Gaussian components per digit of the fitted latent density;
 *   - PRECISE_BN_IMAGES (src/engine/batchnorm-stats.ts): training images measured for exact BatchNorm statistics.
 *
 *   node --import tsx tools/select-on-held-out.ts [--checkpoint checkpoints/cvae] [--components 1,2,4,8,12,16]
 *        [--bn-images 1000,2500,5000,10000,25000,50000] [--samples 300] [--seed 7]
 *
 * The training set is split: images 0-49,999 are the fitting slice, 50,000-59,999 the held-out slice.
 *   Components: per-digit mixtures are fitted to the fitting slice's codes (z_mean) and scored on the
 *     held-out slice: the held-out log-likelihood of its codes, and the samples the mixtures generate,
 *     judged by the shipped classifier (share recognised as the digit asked for, Frechet distance to the
 *     held-out images in its feature space).
 *   BatchNorm images: exact statistics are measured on the first N images of the fitting slice (and of a
 *     second window, for the spread), then the held-out slice's reconstruction error (inference mode, z
 *     sampled with one fixed noise) is reported against N.
 * The checkpoint's weights were trained on all 60,000 images; what is held out is the slice the choices
 * are scored on, which none of the fitted quantities saw.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src/engine/backend.js';
import { preciseBatchNorm } from '../src/engine/batchnorm-stats.js';
import { loadCheckpoint } from '../src/engine/checkpoint.js';
import { loadMnist, NUM_CLASSES, PIXELS, type MnistSet } from '../src/engine/data.js';
import { decodeToImages } from '../src/engine/generator.js';
import { codesOfDigit, encodeLatentMeans, fitDigitMixtures, mixtureLogLikelihood, sampleMixture, type GaussianMixture } from '../src/engine/prior.js';
import { measureReconstruction } from '../src/engine/reconstruction.js';
import { createRng } from '../src/engine/rng.js';
import { loadClassifier } from '../src/eval/classifier.js';
import { FeatureMoments, frechetDistance, type GaussianStats } from '../src/eval/frechet.js';
import { SHIPPED_CHECKPOINT, SHIPPED_CLASSIFIER } from '../src/config/paths.js';

export const FIT_SLICE = [0, 50_000] as const;
export const HELD_OUT_SLICE = [50_000, 60_000] as const;

/** Rows [start, end) of a set, sharing its buffers. */
export function sliceSet(set: MnistSet, start: number, end: number): MnistSet {
  return {
    ...set,
    count: end - start,
    images: set.images.subarray(start * PIXELS, end * PIXELS),
    labels: set.labels.subarray(start, end),
    fingerprint: `${set.fingerprint}[${start}:${end}]`,
  };
}

/** Mean log-density of held-out codes under their digit's mixture (nats per code). Higher is better. */
export function heldOutLogLikelihood(mixtures: readonly GaussianMixture[], codes: Float32Array, labels: Uint8Array, latentDim: number): number {
  let total = 0;
  let n = 0;
  mixtures.forEach((mixture, digit) => {
    const points = codesOfDigit(codes, labels, digit, latentDim);
    const m = points.length / latentDim;
    if (m === 0) return;
    total += mixtureLogLikelihood(mixture, points, latentDim) * m;
    n += m;
  });
  return total / n;
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      checkpoint: { type: 'string', default: SHIPPED_CHECKPOINT },
      components: { type: 'string', default: '1,2,4,8,12,16' },
      'bn-images': { type: 'string', default: '1000,2500,5000,10000,25000,50000' },
      samples: { type: 'string', default: '300' },
      seed: { type: 'string', default: '7' },
    },
  });
  const seed = Number(flags.seed);
  const samples = Number(flags.samples);
  const backend = await initBackend('auto');
  const checkpoint = await loadCheckpoint(flags.checkpoint);
  const model = { encoder: checkpoint.encoder, decoder: checkpoint.decoder };
  const latentDim = checkpoint.meta.model.latentDim;
  const classifier = await loadClassifier(SHIPPED_CLASSIFIER);
  const train = await loadMnist('train');
  const fit = sliceSet(train, ...FIT_SLICE);
  const heldOut = sliceSet(train, ...HELD_OUT_SLICE);
  console.log(`${flags.checkpoint} (${checkpoint.meta.epochsTrained} epochs), ${backend}; fitting slice ${FIT_SLICE.join('-')}, held-out slice ${HELD_OUT_SLICE.join('-')}`);

  const judged = await classifier.classify(heldOut.images, heldOut.count);
  const reference = new FeatureMoments(classifier.featureDim);
  reference.add(judged.features, heldOut.count);
  const heldOutStats: GaussianStats = reference.stats();

  console.log('\n## Components per digit (codes with the checkpoint\'s BatchNorm statistics)\n');
  const fitCodes = await encodeLatentMeans(model.encoder, fit, latentDim);
  const heldOutCodes = await encodeLatentMeans(model.encoder, heldOut, latentDim);
  console.log(`| K | held-out log-likelihood (nats/code) | samples recognised % (worst digit) | Frechet to held-out images | fit s |`);
  console.log('|---|---|---|---|---|');
  for (const K of flags.components.split(',').filter(Boolean).map(Number)) {
    const started = performance.now();
    const mixtures = (await fitDigitMixtures(fitCodes, fit.labels, latentDim, { components: K, seed }))!.digits;
    const fitSeconds = (performance.now() - started) / 1000;
    const ll = heldOutLogLikelihood(mixtures, heldOutCodes, heldOut.labels, latentDim);
    const moments = new FeatureMoments(classifier.featureDim);
    const perDigit: number[] = [];
    for (let digit = 0; digit < NUM_CLASSES; digit++) {
      const z = sampleMixture(mixtures[digit]!, samples, 1, createRng(seed, 'select-samples', digit));
      const images = await decodeToImages(model.decoder, z, new Array<number>(samples).fill(digit), latentDim);
      const pixels = new Float32Array(samples * PIXELS);
      images.forEach((image, i) => pixels.set(image.pixels, i * PIXELS));
      const out = await classifier.classify(pixels, samples);
      let right = 0;
      for (let i = 0; i < samples; i++) if (out.labels[i] === digit) right++;
      perDigit.push(right / samples);
      moments.add(out.features, samples);
    }
    const mean = perDigit.reduce((a, b) => a + b, 0) / NUM_CLASSES;
    const frechet = frechetDistance(moments.stats(), heldOutStats);
    console.log(`| ${K} | ${ll.toFixed(3)} | ${(mean * 100).toFixed(2)} (${(Math.min(...perDigit) * 100).toFixed(1)}) | ${frechet.toFixed(3)} | ${fitSeconds.toFixed(1)} |`);
  }

  console.log('\n## Training images for exact BatchNorm statistics\n');
  console.log('| images | window | held-out MSE, sampled z | held-out MSE, z mean | s |');
  console.log('|---|---|---|---|---|');
  for (const images of flags['bn-images'].split(',').filter(Boolean).map(Number)) {
    const windows = images <= fit.count / 2 ? [0, fit.count / 2] : [0];
    for (const offset of windows) {
      const started = performance.now();
      const window = sliceSet(fit, offset, offset + images);
      const measured = await preciseBatchNorm(model, window, latentDim, { rng: createRng(seed, 'batchnorm'), images });
      if (!measured) throw new Error('interrupted');
      const seconds = (performance.now() - started) / 1000;
      const { mseSampled, mseMean } = await measureReconstruction(model, heldOut, { seed, atMean: true });
      console.log(`| ${images} | ${offset}-${offset + images} | ${mseSampled.toFixed(6)} | ${mseMean.toFixed(6)} | ${seconds.toFixed(1)} |`);
    }
  }
  classifier.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
