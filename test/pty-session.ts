/**
 * Runs the app from source in a pseudo-terminal (util-linux `script`) of a given size and
 * environment, with the fake generator, types what each step says once the one before it is
 * answered, and returns every byte the app wrote (latin1, so escapes and base64 survive as they are).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const hasScript = spawnSync('script', ['--version']).status === 0;

/** Variables of the machine's own terminal that would change what the app detects. */
const TERMINAL_VARIABLES = ['TMUX', 'STY', 'CI', 'CONTINUOUS_INTEGRATION', 'KITTY_WINDOW_ID', 'KITTY_PID', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION', 'LC_TERMINAL', 'NO_COLOR', 'WEZTERM_PANE', 'WEZTERM_UNIX_SOCKET', 'KONSOLE_VERSION', 'GHOSTTY_RESOURCES_DIR', 'WT_SESSION', 'COLORTERM', 'VTE_VERSION', 'XTERM_VERSION'];

export interface PtyStep {
  /** What to type (sent at once, as a paste is). */
  send: string;
  /** Sent once this holds for the output so far (the first step waits for the prompt by default). */
  after?: (out: string) => boolean;
}

export async function ptySession(options: { columns: number; rows: number; env: Record<string, string>; args?: string[]; steps: PtyStep[] }): Promise<{ code: number | null; out: string }> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-pty-'));
  const base = { ...process.env };
  for (const key of TERMINAL_VARIABLES) delete base[key];
  const args = (options.args ?? []).map((a) => `'${a}'`).join(' ');
  // A fresh pty has no size; give it the window's, or Ink lays out for one column.
  const child = spawn('script', ['-qfec', `stty cols ${options.columns} rows ${options.rows}; exec '${process.execPath}' --import tsx src/cli.tsx ${args}`, '/dev/null'], {
    cwd: ROOT,
    env: { ...base, CVAE_REPL_FAKE_GENERATOR: '1', CVAE_REPL_CONFIG_DIR: configDir, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  // A hang detector, not a timing: a busy machine takes seconds per step.
  const until = async (check: (out: string) => boolean, what: string): Promise<void> => {
    const start = Date.now();
    while (!check(out)) {
      if (Date.now() - start > 180_000) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(out.slice(-400))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  try {
    for (const [i, step] of options.steps.entries()) {
      await until(step.after ?? ((o) => o.includes('input digit to generate:')), `step ${i + 1} (${JSON.stringify(step.send)})`);
      child.stdin.write(step.send);
    }
    const code = await closed;
    return { code, out };
  } finally {
    child.kill();
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

/** Number of prompts drawn so far. */
export const prompts = (out: string): number => (out.match(/input digit to generate:/g) ?? []).length;
