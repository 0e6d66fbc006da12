/**
 * `cvae-repl sample`: draws `count` images of one digit from a checkpoint and writes them as one
 * grayscale PNG grid (28x28 tiles, row-major, `pad` black pixels between tiles). The file is written
 * to a temporary name and renamed, so an existing file is never left half-written.
 */
import path from 'node:path';
import { InvalidArgumentError } from '../engine/errors.js';
import { loadGenerator } from '../engine/generator.js';
import type { SampleOptions } from '../engine/types.js';
import { writeFileAtomic } from '../engine/fs-atomic.js';
import { encodePng, tileGrid } from '../render/grid.js';
import { reportCommandError } from './errors.js';
import type { CommandIo } from './io.js';

function validateLayout(options: SampleOptions): void {
  if (options.cols !== undefined && !(Number.isInteger(options.cols) && options.cols >= 1)) throw new InvalidArgumentError(`--cols must be a whole number >= 1, got ${options.cols}`);
  if (!(Number.isInteger(options.pad) && options.pad >= 0)) throw new InvalidArgumentError(`--pad must be a whole number >= 0, got ${options.pad}`);
  if (!options.out.toLowerCase().endsWith('.png')) throw new InvalidArgumentError(`--out must name a .png file, got ${options.out}`);
}

/** Generates the grid and writes the PNG. Returns the exit code: 0 written, 1 a clear error was printed. */
export async function runSampleCommand(options: SampleOptions, io: CommandIo): Promise<number> {
  let generator: Awaited<ReturnType<typeof loadGenerator>> | undefined;
  try {
    validateLayout(options);
    generator = await loadGenerator(options.checkpointDir, options.backend);
    let sampler = options.sampler;
    if (sampler === 'fitted' && !generator.checkpoint.hasFittedPrior) {
      io.stderr.write(`note: ${options.checkpointDir} has no fitted latent density (training did not finish); sampling z ~ N(0, I) instead\n`);
      sampler = 'prior';
    }
    const images = await generator.generate(options.digit, options.count, {
      sampler,
      scale: options.scale,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    const cols = Math.min(options.cols ?? Math.ceil(Math.sqrt(images.length)), images.length);
    const grid = tileGrid(images, { cols, pad: options.pad });
    try {
      await writeFileAtomic(options.out, encodePng(grid));
    } catch (error) {
      io.stderr.write(`error: cannot write ${path.resolve(options.out)} (${(error as NodeJS.ErrnoException).code ?? String(error)}); check the directory is writable\n`);
      return 1;
    }
    const rows = Math.ceil(images.length / cols);
    io.stdout.write(
      `wrote ${path.resolve(options.out)}: ${images.length} x digit ${options.digit}, ${cols}x${rows} grid, ${grid.width}x${grid.height} px, sampler ${sampler}, scale ${options.scale}` +
        `${options.seed === undefined ? '' : `, seed ${options.seed}`} (checkpoint ${generator.checkpoint.dir}, ${generator.checkpoint.epochsTrained} epoch${generator.checkpoint.epochsTrained === 1 ? "" : "s"}, ${generator.backend})\n`,
    );
    return 0;
  } catch (error) {
    return reportCommandError(error, io.stderr);
  } finally {
    generator?.dispose();
  }
}
