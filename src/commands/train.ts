/**
 * `cvae-repl train`: trains without the interactive UI, printing plain progress lines, and exits.
 * One line per epoch; on a terminal also a batch line, redrawn at most a few times a second.
 */
import { trainCheckpoint } from '../engine/train.js';
import type { BatchReport, EpochReport, TrainOptions } from '../engine/types.js';
import { lossChart } from '../present/chart.js';
import { formatDuration } from '../present/format.js';
import { reportCommandError } from './errors.js';
import type { CommandIo } from './io.js';

const BATCH_LINE_INTERVAL_MS = 250;

/** The per-epoch progress line. */
export function formatEpochLine(r: EpochReport): string {
  return (
    `epoch ${r.epoch}/${r.epochs}  loss ${r.loss.toFixed(5)} (recon ${r.recon.toFixed(5)}, kl ${r.kl.toFixed(2)})` +
    `  test recon ${r.testRecon.toFixed(5)} kl ${r.testKl.toFixed(2)}  ${formatDuration(r.seconds)}` +
    (r.savedTo ? `  saved ${r.savedTo}` : '')
  );
}

/** The live batch line (terminals only); the ETA assumes full batches of `batchSize`. */
export function formatBatchLine(r: BatchReport, batchSize: number): string {
  const eta = r.samplesPerSec > 0 ? `  epoch ETA ${formatDuration(((r.batches - r.batch) * batchSize) / r.samplesPerSec)}` : '';
  return `epoch ${r.epoch}/${r.epochs}  batch ${r.batch}/${r.batches}  loss ${r.loss.toFixed(5)}  recon ${r.recon.toFixed(5)}  kl ${r.kl.toFixed(2)}  ${r.samplesPerSec.toFixed(0)} samples/s${eta}`;
}

/** The exit code of a run stopped through `signal`: 143 when aborted with reason 'SIGTERM', else 130 (Ctrl+C). */
export function stopExitCode(signal: AbortSignal | undefined): 130 | 143 {
  return signal?.reason === 'SIGTERM' ? 143 : 130;
}

/**
 * Runs a training job for scripts. Returns the exit code: 0 done, 130 (143) stopped by `signal`
 * aborted with reason 'SIGINT' ('SIGTERM') (the last complete epoch's checkpoint is kept), 1 a clear
 * error was printed (bad data, unreadable checkpoint, a diverging run ...).
 */
export async function runTrainCommand(options: TrainOptions, io: CommandIo, signal?: AbortSignal): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const live = io.stdout.isTTY === true;
  const epochs: EpochReport[] = [];
  // The loss curves at the end: braille on a terminal, plain ASCII in a pipe or a log.
  const chart = (): void => {
    const lines = lossChart(epochs, { columns: io.stdout.columns ?? 80, style: live && process.env.TERM !== 'dumb' ? 'braille' : 'ascii' });
    if (lines.length > 0) out(lines.join('\n'));
  };
  let batchLineShown = false;
  let lastDraw = 0;
  const clearBatchLine = () => {
    if (batchLineShown) io.stdout.write('\r\x1b[2K');
    batchLineShown = false;
  };
  try {
    const outcome = await trainCheckpoint(options, {
      ...(signal ? { signal } : {}),
      onStatus: (message) => {
        clearBatchLine();
        out(message);
      },
      onBatchEnd: (report) => {
        if (!live) return;
        const now = Date.now();
        if (now - lastDraw < BATCH_LINE_INTERVAL_MS && report.batch !== report.batches) return;
        lastDraw = now;
        io.stdout.write(`\r\x1b[2K${formatBatchLine(report, options.batchSize)}`);
        batchLineShown = true;
      },
      onEpochEnd: (report) => {
        clearBatchLine();
        epochs.push({ ...report, preview: undefined });
        out(formatEpochLine(report));
      },
    });
    clearBatchLine();
    chart();
    if (outcome.aborted) {
      out(
        outcome.epochsTrained > 0
          ? `stopped; the checkpoint in ${outcome.checkpointDir} holds ${outcome.epochsTrained} complete epoch${outcome.epochsTrained === 1 ? '' : 's'} (continue with --resume)`
          : 'stopped before the first epoch finished; no checkpoint was written',
      );
      return stopExitCode(signal);
    }
    out(`done: ${outcome.epochsTrained} epoch${outcome.epochsTrained === 1 ? '' : 's'} trained on ${outcome.backend}; checkpoint in ${outcome.checkpointDir}`);
    return 0;
  } catch (error) {
    clearBatchLine();
    return reportCommandError(error, io.stderr);
  }
}
