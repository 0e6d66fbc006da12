/** Mounts the Ink app on the real terminal and resolves to its exit code. */
import React from 'react';
import { render } from 'ink';
import { App, type AppProps } from './app.js';
import { withoutEscapeSequences } from './key-filter.js';

/** Renders the REPL until it exits; the terminal is restored (raw mode off, cursor shown) when this resolves. */
export async function runInteractive(props: Omit<AppProps, 'onExit'>): Promise<number> {
  let exitCode = 0;
  // Ctrl+C is ours: at the prompt it leaves cleanly, during training it stops after the current batch.
  // Escape sequences are filtered out of the keys first: some crash Ink 6.8's input parsing (see key-filter.ts).
  const instance = render(<App {...props} onExit={(code) => (exitCode = code)} />, { exitOnCtrlC: false, stdin: withoutEscapeSequences(process.stdin) });
  await instance.waitUntilExit();
  return exitCode;
}
