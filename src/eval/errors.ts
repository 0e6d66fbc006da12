/**
 * Typed errors of the evaluation tools. Messages are one line saying what is wrong and what to do;
 * only the command entry points print them.
 */
import { EngineError } from '../engine/errors.js';

/** The classifier checkpoint is missing, unreadable or inconsistent, or was given bad input. */
export class ClassifierError extends EngineError {
  override readonly name = 'ClassifierError';
}

/** An evaluation was asked for something it cannot do (no samples, mismatched sizes ...). */
export class EvalError extends EngineError {
  override readonly name = 'EvalError';
}
