/**
 * Typed errors thrown by the engine. Each message is one line that says what is wrong and what to do;
 * entry points print `error.message` and pick an exit code, never a stack trace.
 */

/** Base class: anything the engine throws on purpose. */
export class EngineError extends Error {
  override readonly name: string = 'EngineError';
}

/** An MNIST IDX file is missing, truncated or not what its name says. `file` is the path at fault. */
export class DataError extends EngineError {
  override readonly name = 'DataError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A checkpoint directory cannot be read or written. `file` is the path at fault. */
export class CheckpointError extends EngineError {
  override readonly name = 'CheckpointError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** A caller passed a value outside what the engine accepts (digit 12, count 0, batch size -1 ...). */
export class InvalidArgumentError extends EngineError {
  override readonly name = 'InvalidArgumentError';
}

/** Training stopped because the loss was no longer finite (NaN or Infinity): Keras' TerminateOnNaN. */
export class TrainingDivergedError extends EngineError {
  override readonly name = 'TrainingDivergedError';
}

/** The first line of an error's message: what goes into a one-line report. */
export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
