/**
 * The REPL without raw mode, for when stdin is not a terminal (`printf '3\n7\n-1\n' | cvae-repl`):
 * the same prompt, grids and exit rules as the Ink UI, one line at a time. Grids are text
 * (blocks or ascii) unless --render asks for an image protocol.
 */
import readline from 'node:readline';
import type { EpochReport, TrainCallbacks, TrainOutcome } from '../engine/types.js';
import { createSession, type SessionOutput } from '../explore/session.js';
import type { ReplModel } from '../explore/model.js';
import { gridToBytes } from '../render/terminal.js';
import type { ReplOptions } from './options.js';
import { lossChart } from '../present/chart.js';
import { parseLine } from '../prompt/commands.js';
import { PROMPT_HINT, backendHint, chartStyleFor, errorMessage, formatBatchStats, formatEpoch, formatHeader, plural, progressBar, renderPicture, renderPreview } from '../present/format.js';
import { PROMPT, displayable } from '../prompt/input.js';

export interface TextSink {
  write(text: string): unknown;
}

export interface LineModeOptions extends ReplOptions {
  input: NodeJS.ReadableStream;
  /** Prompt, echoed input, grids and the final value: the notebook's output. */
  stdout: TextSink;
  /** Header, hints, errors and training progress. */
  stderr: TextSink;
  columns: number;
  /** Aborts training (the entry point wires it to SIGINT). */
  signal?: AbortSignal;
}

/** Prints training progress as lines: status, a few progress lines per epoch, one summary per epoch with its preview. */
function lineTrainingCallbacks(options: LineModeOptions, batchSize: number, epochs: EpochReport[]): Omit<TrainCallbacks, 'signal'> {
  const { stderr } = options;
  let lastDecile = -1;
  return {
    onStatus: (message) => stderr.write(`${message}\n`),
    onBatchEnd: (report) => {
      // A line per tenth of an epoch: enough to see it move in a log, not a flood.
      const decile = Math.floor((report.batch / report.batches) * 10);
      if (decile === lastDecile || report.batch === report.batches) return;
      lastDecile = decile;
      stderr.write(`epoch ${report.epoch}/${report.epochs} ${progressBar(report.batch, report.batches, 20)} ${report.batch}/${report.batches} · ${formatBatchStats(report, batchSize)}\n`);
    },
    onEpochEnd: (report) => {
      lastDecile = -1;
      epochs.push({ ...report, preview: undefined });
      stderr.write(`${formatEpoch(report)}\n`);
      const preview = report.preview === undefined ? undefined : renderPreview(report.preview, options.render, options.columns);
      if (preview !== undefined) stderr.write(gridToBytes(preview));
    },
  };
}

/** Runs the loop until an integer outside 0-9 or end of input; resolves to the exit code. */
export async function runLineMode(options: LineModeOptions): Promise<number> {
  const { services, stdout, stderr } = options;
  let dir = options.checkpointDir;
  if (services.train !== undefined && options.training !== undefined) {
    let outcome: TrainOutcome;
    const epochs: EpochReport[] = [];
    try {
      outcome = await services.train({ ...lineTrainingCallbacks(options, options.training.batchSize, epochs), ...(options.signal === undefined ? {} : { signal: options.signal }) });
    } catch (error) {
      stderr.write(`error: ${errorMessage(error)}\n`);
      return 1;
    }
    if (outcome.epochsTrained > 0) {
      dir = outcome.checkpointDir;
      services.onTrained?.(outcome);
    }
    stderr.write(
      outcome.aborted
        ? `training stopped; ${outcome.epochsTrained > 0 ? `kept the last complete checkpoint (${plural(outcome.epochsTrained, 'epoch')}) in ${outcome.checkpointDir}` : 'no epoch finished, no checkpoint was written'}\n`
        : `training done: ${plural(outcome.epochsTrained, 'epoch')} in ${outcome.checkpointDir}, now the active checkpoint\n`,
    );
    const chart = lossChart(epochs, { columns: options.columns, style: chartStyleFor(options.render) });
    if (chart.length > 0) stderr.write(`${chart.join('\n')}\n`);
  }

  let model: ReplModel;
  try {
    model = await services.loadGenerator(dir);
  } catch (error) {
    stderr.write(`error: ${errorMessage(error)}\n`);
    return 1;
  }
  try {
    stderr.write(`${formatHeader(options.version, model.backend, model.checkpoint, options.sampler).join('\n')}\n`);
    const hint = backendHint(options.backendChoice, model.backend);
    if (hint !== undefined) stderr.write(`${hint}\n`);
    stderr.write(`${PROMPT_HINT}\n`);
    const session = createSession({
      model,
      settings: { grid: options.grid, sampler: options.sampler, scale: options.scale, ...(options.seed === undefined ? {} : { seed: options.seed }) },
      ...(services.saveSetting === undefined ? {} : { saveSetting: services.saveSetting }),
    });
    const print = (output: SessionOutput): void => {
      if (output.kind === 'error') stderr.write(`error: ${output.text}\n`);
      else if (output.kind === 'message') stdout.write(`${output.text}\n`);
      else {
        if (output.picture.caption !== undefined) stdout.write(`${output.picture.caption}\n`);
        stdout.write(gridToBytes(renderPicture(output.picture, options.render, options.columns)));
      }
    };

    const lines = readline.createInterface({ input: options.input, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
    stdout.write(`${PROMPT} `);
    for await (const line of lines) {
      // Echo what was read: piped input is not echoed by a terminal, and a log should read like the notebook.
      // Control bytes are shown as escapes, not sent to the terminal.
      stdout.write(`${displayable(line)}\n`);
      const parsed = parseLine(line);
      if (parsed.kind === 'quit') {
        stdout.write(`${parsed.value}\n`);
        lines.close();
        return 0;
      }
      if (parsed.kind === 'invalid') stderr.write(`error: ${parsed.message}\n`);
      else for (const output of await session.run(parsed.kind === 'digit' ? { kind: 'digit', digit: parsed.digit } : { kind: 'command', command: parsed.command })) print(output);
      stdout.write(`${PROMPT} `);
    }
    // End of input at the prompt: finish the prompt's line, leave like Ctrl+D.
    stdout.write('\n');
    return 0;
  } finally {
    model.dispose();
  }
}
