/**
 * How the bin answers Ctrl+C and SIGTERM: it takes the two signals over from the modules that hook
 * them, turns the first into "stop after the current batch" and the second into "quit now", and exits
 * with the shell's code for the signal. Part of the entry: commands receive only an AbortSignal.
 */
import { constants as osConstants } from 'node:os';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Makes `onSignal` the only handler of SIGINT and SIGTERM until the returned release is called.
 * Why remove the others: conf's atomically hooks every signal through when-exit, which runs its
 * clean-up and then re-sends the signal to kill the process, so one Ctrl+C arrived twice and
 * "stop after the current batch" became "quit now". Its clean-up also runs on 'exit', so nothing is lost.
 */
export function takeOverStopSignals(onSignal: (signal: NodeJS.Signals) => void): () => void {
  const foreign = STOP_SIGNALS.map((signal) => {
    const listeners = process.rawListeners(signal) as Array<(...args: unknown[]) => void>;
    // Ours first: while a signal has a listener Node keeps watching it, so one caught but not yet
    // delivered (the process was busy importing) reaches us instead of being dropped with the watcher.
    process.on(signal, onSignal);
    for (const listener of listeners) process.off(signal, listener);
    return { signal, listeners };
  });
  return () => {
    for (const { signal, listeners } of foreign) {
      process.off(signal, onSignal);
      for (const listener of listeners) process.on(signal, listener);
    }
  };
}

/** The shell's exit code for a run a signal ended: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 2);
}

/**
 * Ctrl+C (or SIGTERM) aborts the given controller once, with the signal's name as the reason; a
 * second one leaves at once. Until `begin()` is called (the run has not started: flags, settings,
 * imports) a signal ends the process at once with one line, instead of killing it without a word.
 */
export function abortOnSignal(controller: AbortController, what: string): { begin(): void; release(): void } {
  let begun = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!begun) {
      process.stderr.write(`stopped by ${signal} before ${what} began; nothing was written\n`);
      process.exit(signalExitCode(signal));
    }
    if (controller.signal.aborted) process.exit(signalExitCode(signal));
    process.stderr.write('stopping after the current batch; the last complete checkpoint is kept (Ctrl+C again to quit now)\n');
    controller.abort(signal);
  };
  let release = takeOverStopSignals(onSignal);
  return {
    begin() {
      begun = true;
      // Again: modules imported since (conf's when-exit) hooked the signals too.
      release();
      release = takeOverStopSignals(onSignal);
    },
    release: () => release(),
  };
}
