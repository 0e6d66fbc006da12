/**
 * Runs the bin from source (`node --import tsx src/cli.tsx ...`) with piped stdin, stdout and
 * stderr, for the tests that drive it as a user's shell would.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BinResult {
  code: number | null;
  out: string;
  err: string;
}

/** `env` is laid over process.env; `input` is written to stdin, which is then closed. */
export function runBin(args: readonly string[], env: Record<string, string>, input: string | Buffer = ''): Promise<BinResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.tsx', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8'); // a multi-byte character may straddle two chunks
  child.stdout.on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (err += d));
  child.stdin.on('error', () => undefined); // the app may exit before reading everything
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}
