/**
 * Formats an Evaluation: a readable text report for people, one JSON object for scripts, and the
 * notebook's figure (10 test digits above their reconstructions) as one image.
 */
import { tileGrid } from '../render/grid.js';
import type { GrayImage } from '../engine/types.js';
import type { Evaluation } from './evaluate.js';

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
  lines.push('');
  lines.push(`Took ${evaluation.seconds.toFixed(0)} s.`);
  return `${lines.join('\n')}\n`;
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
    ...(figurePath === undefined ? {} : { figure: figurePath }),
    seconds: evaluation.seconds,
  };
}
