/**
 * The app in a real terminal for the tests: tmux runs it from source in a detached window, the test
 * types like a person (send-keys) and reads the screen back (capture-pane). Shared by the tests that
 * need a terminal; each test skips, saying so, only when tmux is not installed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `skip` for node:test: false when tmux runs here, else the reason. */
export const skipWithoutTmux: string | false = spawnSync('tmux', ['-V']).status === 0 ? false : 'tmux is not installed (CI installs it: .ci/run)';

/** Single-quotes a word for the shell tmux starts the app in. */
export const shellQuote = (v: string): string => `'${v.replaceAll("'", "'\\''")}'`;

export interface TmuxSession {
  send(...keys: string[]): void;
  resize(columns: number): void;
  /** The screen and its scrollback; `colours` keeps the SGR escapes, `joined` rejoins lines the terminal wrapped. */
  capture(colours?: boolean, joined?: boolean): string;
  until(check: () => boolean, what: string): Promise<void>;
  /** The app's exit code once it has exited. */
  exitCode(): string | undefined;
  /**
   * Prompts on the screen, counted only while the app waits at an empty prompt: for a frame or two after
   * Enter, Ink's write() repaints its last frame under what it writes, so a stale copy of the typed
   * prompt (`...: 3`) sits below the echo. The empty prompt at the bottom is only drawn after the grid.
   */
  prompts(): number;
  close(): void;
}

export interface TmuxAppOptions {
  columns: number;
  rows?: number;
  /** Laid over the app's environment (private settings, TERM=xterm-256color, no NO_COLOR, no CI). */
  env?: Record<string, string>;
  args?: string[];
  /** Shell text after the command, such as a redirection. */
  shellSuffix?: string;
  /** How long `until` waits (the real model loads slower than the fake generator). */
  timeoutMs?: number;
}

export function startApp(options: TmuxAppOptions): TmuxSession {
  const socket = `cvae-repl-test-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-tmux-'));
  const tmux = (...a: string[]): string => execFileSync('tmux', ['-L', socket, ...a], { encoding: 'utf8' });
  const env = { CVAE_REPL_CONFIG_DIR: dir, TERM: 'xterm-256color', ...options.env };
  // The shell writes the app's exit code to a file: tmux 3.3 sometimes leaves a finished pane's
  // process unreaped, and then #{pane_dead_status} stays empty.
  const exitFile = path.join(dir, 'exit-code');
  // Ink draws no live frame when it thinks it runs in CI, so CI is unset for the app (a person is typing here).
  const app = ['env', '-u', 'CI', '-u', 'CONTINUOUS_INTEGRATION', '-u', 'NO_COLOR', ...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`), shellQuote(process.execPath), '--import', 'tsx', 'src/cli.tsx', ...(options.args ?? []).map(shellQuote)].join(' ');
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'app', '-x', String(options.columns), '-y', String(options.rows ?? 60), '-c', root, `${app}${options.shellSuffix ?? ''}; echo $? > ${shellQuote(exitFile)}`, ';', 'set-option', '-t', 'app', 'remain-on-exit', 'on');
  const capture = (colours = false, joined = true): string => tmux('capture-pane', '-p', ...(joined ? ['-J'] : []), ...(colours ? ['-e'] : []), '-S', '-400', '-t', 'app');
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    send: (...keys) => void tmux('send-keys', '-t', 'app', ...keys),
    resize: (columns) => void tmux('resize-window', '-t', 'app', '-x', String(columns)),
    capture,
    async until(check, what) {
      const start = Date.now();
      while (!check()) {
        if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}; the screen:\n${capture()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    exitCode: () => (fs.existsSync(exitFile) ? fs.readFileSync(exitFile, 'utf8').trim() : undefined),
    // Ink word-wraps the prompt itself in a narrow window, hence \s+.
    prompts: () => {
      const text = capture();
      return /input\s+digit\s+to\s+generate:\s*$/.test(text) ? (text.match(/input\s+digit\s+to\s+generate:/g) ?? []).length : 0;
    },
    close: () => {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
