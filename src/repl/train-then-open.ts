/**
 * `cvae-repl --train`: train first, then open what was trained. Both front ends (the Ink UI and line
 * mode) run this; they differ only in how they show progress (`callbacks`) and the result.
 */
import type { EpochReport, TrainCallbacks, TrainOutcome } from '../engine/types.js';
import { lossChart, type ChartStyle } from '../present/chart.js';
import { errorMessage, trainingOutcomeMessage } from '../present/format.js';
import type { AppServices } from './options.js';

export type TrainThenOpen =
  | { readonly ok: true; readonly outcome: TrainOutcome; readonly dir: string; readonly message: string; readonly chart: string[] }
  | { readonly ok: false; readonly error: string };

/**
 * Trains through `services.train`, collecting the epochs for the loss chart. The checkpoint to open is
 * the trained one once an epoch is saved (it becomes the active checkpoint), else `checkpointDir`.
 */
export async function trainThenOpen(services: AppServices & { train: NonNullable<AppServices['train']> }, checkpointDir: string, callbacks: TrainCallbacks, chart: { columns: number; style: ChartStyle }): Promise<TrainThenOpen> {
  const epochs: EpochReport[] = [];
  let outcome: TrainOutcome;
  try {
    outcome = await services.train({
      ...callbacks,
      onEpochEnd: (report) => {
        epochs.push({ ...report, preview: undefined });
        return callbacks.onEpochEnd?.(report);
      },
    });
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
  let dir = checkpointDir;
  if (outcome.epochsTrained > 0) {
    dir = outcome.checkpointDir;
    services.onTrained?.(outcome);
  }
  return { ok: true, outcome, dir, message: trainingOutcomeMessage(outcome, 'repl', dir), chart: lossChart(epochs, chart) };
}
