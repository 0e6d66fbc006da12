/**
 * What a REPL opens and how it draws: the contract between the entry point and either front end, the
 * Ink UI (src/ui/app.tsx) or line mode (./line-mode.ts).
 */
import type { BackendChoice, SamplerName, TrainCallbacks, TrainOutcome } from '../engine/types.js';
import type { ReplModel } from '../explore/model.js';
import type { SettingKey } from '../explore/session.js';
import type { RenderMode } from '../render/terminal.js';

export interface AppServices {
  /** Opens a checkpoint for sampling and the prompt's commands. */
  loadGenerator(checkpointDir: string): Promise<ReplModel>;
  /** Present with `--train`: trains first; the REPL then opens the trained checkpoint. */
  train?(callbacks: TrainCallbacks): Promise<TrainOutcome>;
  /** Called after training wrote at least one epoch (the entry point makes it the active checkpoint). */
  onTrained?(outcome: TrainOutcome): void;
  /** Persists a setting changed at the prompt (`:grid 4`); `null` clears it. May throw (reported, the session keeps the value). */
  saveSetting?(key: SettingKey, value: string | number | null): void;
}

/** What the REPL opens and how it draws; the same for the Ink UI and line mode. */
export interface ReplOptions {
  services: AppServices;
  /** Checkpoint to open when not training (or when training stopped before its first epoch). */
  checkpointDir: string;
  render: RenderMode;
  /** Samples per prompt: grid x grid (`:grid` changes it for the session). */
  grid: number;
  sampler: SamplerName;
  scale: number;
  seed?: number;
  backendChoice: BackendChoice;
  /** Epochs and batch size of the `--train` run, for the progress view. */
  training?: { epochs: number; batchSize: number };
  version: string;
}
