/**
 * Formats an Evaluation: a readable text report for people, one JSON object for scripts, and the
 * notebook's figure (10 test digits above their reconstructions) as one image.
 */
import { tileGrid } from '../render/grid.js';
import type { GrayImage } from '../engine/types.js';
import type { Evaluation } from './evaluate.js';
import type { ExploreScore } from './explore.js';

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The notebook's `plot()`: originals on the top row, reconstructions below, 2 px apart. */
export function reconstructionFigure(evaluation: Pick<Evaluation, 'figure'>): GrayImage {
  const { originals, reconstructions } = evaluation.figure;
  return tileGrid([...originals, ...reconstructions], { cols: originals.length, pad: 2 });
}

/** The human-readable report (no figure). */
export function formatEvaluation(evaluation: Evaluation, classifierDir: string): string {
  const { checkpoint: ck, reconstruction: r } = evaluation;
  const lines: string[] = [];
  lines.push(`Checkpoint ${ck.dir}: ${ck.epochsTrained} epochs on ${ck.trainSamples} images (trained on ${ck.backendTrainedOn}); evaluated on ${evaluation.backend}, seed ${evaluation.seed}`);
  lines.push('');
  lines.push(`Reconstruction of the ${r.count} test images`);
  lines.push(`  per-pixel MSE, sampled z (cvae.predict)  ${r.mseSampled.toFixed(4)}`);
  lines.push(`  per-pixel MSE, z = z_mean                ${r.mseMean.toFixed(4)}`);
  lines.push(`  mean KL to N(0, I)                       ${r.kl.toFixed(1)} nats`);
  lines.push('');
  const n = evaluation.samplers[0]?.samplesPerDigit;
  lines.push(
    `Recognisability: share of generated samples the classifier (${classifierDir}, ${pct(evaluation.classifierTestAccuracy)} on the test set) labels as the requested digit` +
      (n === undefined ? '' : `, ${n} samples per digit`),
  );
  const header = ['sampler', ...Array.from({ length: 10 }, (_, d) => String(d)), 'all', 'Frechet'];
  const rows = evaluation.samplers.map((s) => [s.sampler, ...s.perDigit.map(pct), pct(s.mean), s.frechet.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const format = (cells: readonly string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  lines.push(format(header));
  for (const row of rows) lines.push(format(row));
  for (const s of evaluation.skipped) lines.push(`  ${s.sampler}: skipped, ${s.reason}`);
  lines.push('  Frechet: squared Frechet distance between generated images (all digits) and the test set in the classifier\'s 128-d feature space; lower is closer.');
  if (evaluation.explore !== null) {
    lines.push('');
    lines.push(...formatExplore(evaluation.explore));
  }
  lines.push('');
  lines.push(`Took ${evaluation.seconds.toFixed(0)} s.`);
  return `${lines.join('\n')}\n`;
}

/** The explore section of the report: what :style, :morph and :walk show, as the classifier sees it. */
export function formatExplore(e: ExploreScore): string[] {
  const minOf = (values: readonly number[], what: string): string => {
    const min = Math.min(...values);
    return `lowest ${what} ${values.indexOf(min)}: ${pct(min)}`;
  };
  const last = e.firstSeed + e.seeds - 1;
  const lines = [`Prompt commands, seeds ${e.firstSeed}-${last} (:seed N for each), judged by the same classifier`];
  lines.push(`  :style  tiles recognised as their label   ${pct(e.style.recognised)} of ${e.style.tiles} (${e.style.rowsPerSeed} rows per seed; ${minOf(e.style.perLabel, 'label')})`);
  lines.push(
    `         rows differ (RMS per pixel, same label)  ${e.style.rowDifference.toFixed(3)}` +
      (e.style.referenceDifference === null ? '' : ` (two ordinary samples of a digit: ${e.style.referenceDifference.toFixed(3)})`),
  );
  lines.push(`  :morph  ends recognised as A and B        ${pct(e.morph.endpoints)} of ${2 * e.morph.strips} (${e.morph.strips} random ordered pairs; first tile A ${pct(e.morph.starts)}, last tile B ${pct(e.morph.ends)})`);
  lines.push(
    `         p(B) rises along the strip          ${pct(e.morph.monotone)} of strips (no step drops it by more than ${e.morph.tolerance}; mean largest drop ${e.morph.meanLargestDrop.toFixed(3)}); passes 1/2 at tile ${(e.morph.meanCrossing + 1).toFixed(1)} of ${e.morph.meanProbability.length} on average`,
  );
  lines.push(`  :walk   tiles recognised as D           ${pct(e.walk.recognised)} of ${e.walk.tiles} (every digit once per seed; ${minOf(e.walk.perDigit, 'digit')})`);
  return lines;
}

/** The JSON `--json` prints: plain numbers, no images. */
export function evaluationJson(evaluation: Evaluation, classifierDir: string, figurePath?: string): Record<string, unknown> {
  return {
    checkpoint: evaluation.checkpoint,
    backend: evaluation.backend,
    seed: evaluation.seed,
    classifier: { dir: classifierDir, testAccuracy: evaluation.classifierTestAccuracy },
    reconstruction: evaluation.reconstruction,
    recognisability: Object.fromEntries(
      evaluation.samplers.map((s) => [s.sampler, { samplesPerDigit: s.samplesPerDigit, perDigit: s.perDigit, mean: s.mean, frechet: s.frechet, confusion: s.confusion }]),
    ),
    skipped: evaluation.skipped,
    explore: evaluation.explore,
    ...(figurePath === undefined ? {} : { figure: figurePath }),
    seconds: evaluation.seconds,
  };
}
