/** Mounts the Ink app on the real terminal and resolves to its exit code. */
import React from 'react';
import { render } from 'ink';
import { App, type AppProps } from './app.js';

/** Renders the REPL until it exits; the terminal is restored (raw mode off, cursor shown) when this resolves. */
export async function runInteractive(props: Omit<AppProps, 'onExit'>): Promise<number> {
  let exitCode = 0;
  // Ctrl+C is ours: at the prompt it leaves cleanly, during training it stops after the current batch.
  const instance = render(<App {...props} onExit={(code) => (exitCode = code)} />, { exitOnCtrlC: false });
  await instance.waitUntilExit();
  return exitCode;
}
