/** Plain-text pieces shared by the Ink UI and line mode. */
import type { BackendChoice, BackendName, BatchReport, CheckpointSummary, EpochReport, GrayImage, SamplerName, TrainOutcome } from '../engine/types.js';
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
export function formatHeader(version: string, backend: BackendName, checkpoint: CheckpointSummary, sampler: SamplerName, render?: string): string[] {
  // The generator falls back to the prior when the checkpoint has no fitted density; say so instead of hiding it.
  const shownSampler = sampler === 'fitted' && !checkpoint.hasFittedPrior ? 'prior (this checkpoint has no fitted latent density)' : sampler;
  return [`cvae-repl ${version} · backend ${backend} · sampler ${shownSampler}${render === undefined ? '' : ` · ${render}`}`, `checkpoint ${describeCheckpoint(checkpoint)}`];
}

/** Shown under the header: what can be typed besides the notebook's digits. */
export const PROMPT_HINT = 'a digit 0-9 draws it, any other integer quits; :help lists the commands (:style, :morph, :walk, :recon, :save ...)';

/**
 * How a training run ended, in one line: for the REPL (`--train`, which then opens `openingDir`) or for
 * `cvae-repl train` (which says how to go on).
 */
export function trainingOutcomeMessage(outcome: TrainOutcome, register: 'repl' | 'command', openingDir?: string): string {
  const epochs = plural(outcome.epochsTrained, 'epoch');
  if (register === 'command') {
    if (!outcome.aborted) return `done: ${epochs} trained on ${outcome.backend}; checkpoint in ${outcome.checkpointDir}`;
    return outcome.epochsTrained > 0
      ? `stopped; the checkpoint in ${outcome.checkpointDir} holds ${plural(outcome.epochsTrained, 'complete epoch')} (continue with --resume)`
      : 'stopped before the first epoch finished; no checkpoint was written';
  }
  if (!outcome.aborted) return `training done: ${epochs} in ${outcome.checkpointDir}, now the active checkpoint`;
  return outcome.epochsTrained > 0
    ? `training stopped; kept the last complete checkpoint (${epochs}) in ${outcome.checkpointDir}`
    : `training stopped before its first epoch finished; no checkpoint was written${openingDir === undefined ? '' : `, opening ${openingDir}`}`;
}

/** `1 epoch`, `2 epochs`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The first line of an error's message: engine errors are one line; anything else must not dump a stack. */
export const errorMessage = firstLine;

/** One sample per digit, in a row, as the preview after each training epoch. */
export function renderPreview(preview: readonly GrayImage[], mode: RenderMode, columns: number, rows?: number): RenderedGrid | undefined {
  if (preview.length === 0) return undefined;
  const grid = renderGrid(preview, { mode, columns, cols: preview.length, ...(rows === undefined ? {} : { rows }) });
  // The shrink note is for prompts; a preview strip is small on purpose.
  if (grid.kind === 'text' && grid.note !== undefined) return { kind: 'text', mode: grid.mode, lines: grid.lines };
  return grid;
}


/** Pictures whose tiles are one sequence, so a narrow terminal may wrap them onto more rows. */
const SEQUENCES: ReadonlySet<Picture['name']> = new Set(['morph', 'walk']);

/**
 * A picture for the terminal. Image modes fit it to the window's width and height (`rows`). In text
 * modes a picture wider than the terminal is laid out in bands of columns that fit, one under the
 * other, rather than shrunk: a strip (:morph, :walk) wraps onto more rows in reading order, a table
 * (:style, :recon) keeps its rows together within each band. Only a terminal narrower than one
 * tile shrinks it.
 */
export function renderPicture(picture: Picture, mode: RenderMode, columns: number, rows?: number): RenderedGrid {
  const tile = picture.tiles[0]?.width ?? 28;
  const fit = Math.max(1, Math.floor((columns + 2) / (tile + 2)));
  const cols = picture.cols;
  // The digit grid stays the notebook's N x N grid, shrunk if it must be (and so is anything in a
  // terminal narrower than one tile).
  if ((mode !== 'blocks' && mode !== 'ascii') || cols <= fit || columns < tile || picture.name === 'grid') return renderGrid(picture.tiles, { mode, columns, cols, ...(rows === undefined ? {} : { rows }) });
  // A sequence is one grid with fewer columns per row: its tiles keep their order.
  if (SEQUENCES.has(picture.name)) return renderGrid(picture.tiles, { mode, columns, cols: Math.ceil(cols / Math.ceil(cols / fit)) });
  // Bands of even width where possible: 10 columns where 4 fit are 3 bands of 4, 4 and 2.
  const bandCount = Math.ceil(cols / fit);
  const band = Math.ceil(cols / bandCount);
  const tableRows = Math.ceil(picture.tiles.length / cols);
  const lines: string[] = [];
  let note: string | undefined;
  for (let from = 0; from < cols; from += band) {
    const to = Math.min(cols, from + band);
    const tiles: GrayImage[] = [];
    for (let r = 0; r < tableRows; r++) for (let c = from; c < to; c++) if (r * cols + c < picture.tiles.length) tiles.push(picture.tiles[r * cols + c]!);
    const part = renderGrid(tiles, { mode, columns, cols: to - from });
    if (part.kind !== 'text') return part;
    // A blank line between bands, so they read as separate rows of the picture.
    if (lines.length > 0) lines.push('');
    lines.push(...part.lines);
    note ??= part.note;
  }
  return { kind: 'text', mode, lines, ...(note === undefined ? {} : { note }) };
}

/** `ascii` charts for ascii grids, braille dots otherwise. */
export function chartStyleFor(mode: RenderMode): 'ascii' | 'braille' {
  return mode === 'ascii' ? 'ascii' : 'braille';
}
