import { EngineError } from '../errors.js';

/** A worker thread failed to start or to compute its part of a step. */
export class ParallelTrainingError extends EngineError {
  override readonly name = 'ParallelTrainingError';
}
