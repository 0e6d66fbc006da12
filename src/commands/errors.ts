/**
 * How a subcommand ends on an error: the failures a user can act on become one `error: ...` line
 * and exit code 1; anything else is a bug and keeps its stack trace.
 */
import { BackendError } from '../engine/backend.js';
import { EngineError } from '../engine/errors.js';
import type { CommandIo } from './io.js';

export interface ReportOptions {
  /**
   * Also report file-system failures (an error with an errno code such as EACCES or ENOSPC; its
   * message names the path), after this prefix. Without it they are rethrown.
   */
  fileErrorPrefix?: string;
}

/** Writes the one-line message for `error` and returns exit code 1, or rethrows `error` when it is not one to report. */
export function reportCommandError(error: unknown, stderr: CommandIo['stderr'], options: ReportOptions = {}): 1 {
  if (error instanceof EngineError || error instanceof BackendError) {
    stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (options.fileErrorPrefix !== undefined && typeof code === 'string' && code.startsWith('E')) {
    stderr.write(`error: ${options.fileErrorPrefix}${(error as Error).message}\n`);
    return 1;
  }
  throw error;
}
