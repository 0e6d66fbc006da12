/** Plain-text pieces shared by the Ink UI and line mode. */
import type { BackendChoice, BackendName, BatchReport, CheckpointSummary, EpochReport, GrayImage, SamplerName } from '../engine/types.js';
import type { Picture } from '../render/picture.js';
import { renderGrid, type RenderMode, type RenderedGrid } from '../render/terminal.js';
import { firstLine } from '../engine/errors.js';

/** `1h02m`, `3m12s`, `45s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A bar of `width` cells, filled in proportion to done/total. */
export function progressBar(done: number, total: number, width: number): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(fraction * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** Seconds left in the run, from the current throughput. */
export function etaSeconds(report: BatchReport, batchSize: number): number {
  const remainingBatches = (report.epochs - report.epoch) * report.batches + (report.batches - report.batch);
  return report.samplesPerSec > 0 ? (remainingBatches * batchSize) / report.samplesPerSec : Number.POSITIVE_INFINITY;
}

/** `loss 0.0421 · recon 0.0401 · KL 20.31 · 94 samples/s · ETA 3m12s` */
export function formatBatchStats(report: BatchReport, batchSize: number): string {
  return `loss ${report.loss.toFixed(4)} · recon ${report.recon.toFixed(4)} · KL ${report.kl.toFixed(2)} · ${Math.round(report.samplesPerSec)} samples/s · ETA ${formatDuration(etaSeconds(report, batchSize))}`;
}

/** One line per finished epoch. */
export function formatEpoch(report: EpochReport): string {
  const saved = report.savedTo === undefined ? '' : ` · saved`;
  return `epoch ${report.epoch}/${report.epochs} · loss ${report.loss.toFixed(4)} · recon ${report.recon.toFixed(4)} · KL ${report.kl.toFixed(2)} · test recon ${report.testRecon.toFixed(4)} · test KL ${report.testKl.toFixed(2)} · ${formatDuration(report.seconds)}${saved}`;
}

/** `checkpoints/cvae (30 epochs on 60,000 images, trained on tensorflow)` */
export function describeCheckpoint(checkpoint: CheckpointSummary, cwd = process.cwd()): string {
  const shown = checkpoint.dir.startsWith(`${cwd}/`) ? checkpoint.dir.slice(cwd.length + 1) : checkpoint.dir;
  const parts = [`${plural(checkpoint.epochsTrained, 'epoch')} on ${checkpoint.trainSamples.toLocaleString('en-US')} images`, `trained on ${checkpoint.backendTrainedOn}`];
  if (checkpoint.testMse !== undefined) parts.push(`test MSE ${checkpoint.testMse.toFixed(4)}`);
  return `${shown} (${parts.join(', ')})`;
}

/** The one short hint shown when the native backend could have been used but did not load. */
export function backendHint(choice: BackendChoice, backend: BackendName): string | undefined {
  if (choice !== 'auto' || backend === 'tensorflow') return undefined;
  return 'hint: `npm install @tensorflow/tfjs-node` adds the native backend (much faster training)';
}

/** The header: version, backend and sampler on one line, the checkpoint and how it was trained on the next. */
export function formatHeader(version: string, backend: BackendName, checkpoint: CheckpointSummary, sampler: SamplerName): string[] {
  // The generator falls back to the prior when the checkpoint has no fitted density; say so instead of hiding it.
  const shownSampler = sampler === 'fitted' && !checkpoint.hasFittedPrior ? 'prior (this checkpoint has no fitted latent density)' : sampler;
  return [`cvae-repl ${version} · backend ${backend} · sampler ${shownSampler}`, `checkpoint ${describeCheckpoint(checkpoint)}`];
}

/** Shown under the header: what can be typed besides the notebook's digits. */
export const PROMPT_HINT = 'a digit 0-9 draws it, any other integer quits; :help lists the commands (:style, :morph, :walk, :recon, :save ...)';

/** `1 epoch`, `2 epochs`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The first line of an error's message: engine errors are one line; anything else must not dump a stack. */
export const errorMessage = firstLine;

/** One sample per digit, in a row, as the preview after each training epoch. */
export function renderPreview(preview: readonly GrayImage[], mode: RenderMode, columns: number): RenderedGrid | undefined {
  if (preview.length === 0) return undefined;
  const grid = renderGrid(preview, { mode, columns, cols: preview.length });
  // The shrink note is for prompts; a preview strip is small on purpose.
  if (grid.kind === 'text' && grid.note !== undefined) return { kind: 'text', mode: grid.mode, lines: grid.lines };
  return grid;
}


/** Pictures whose tiles are one sequence, so a narrow terminal may wrap them onto more rows. */
const SEQUENCES: ReadonlySet<Picture['name']> = new Set(['morph', 'walk']);

/**
 * A picture for the terminal. In text modes a strip too wide for the terminal wraps onto more
 * rows rather than shrinking its digits (a style table or recon pairs keep their columns).
 */
export function renderPicture(picture: Picture, mode: RenderMode, columns: number): RenderedGrid {
  let cols = picture.cols;
  const tile = picture.tiles[0]?.width ?? 28;
  const fit = Math.max(1, Math.floor((columns + 2) / (tile + 2)));
  if ((mode === 'blocks' || mode === 'ascii') && SEQUENCES.has(picture.name) && cols > fit) {
    const rows = Math.ceil(cols / fit);
    cols = Math.ceil(cols / rows);
  }
  return renderGrid(picture.tiles, { mode, columns, cols });
}

/** `ascii` charts for ascii grids, braille dots otherwise. */
export function chartStyleFor(mode: RenderMode): 'ascii' | 'braille' {
  return mode === 'ascii' ? 'ascii' : 'braille';
}
