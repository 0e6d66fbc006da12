/**
 * The Ink UI's memory over a long session: N prompts typed into the real App (Ink's own renderer,
 * not ink-testing-library's debug mode, which keeps every frame), on a terminal-like stdout that
 * counts and discards what it is sent, with the fake generator (test/fake-generator.ts), so only
 * the UI's memory is measured. Reports RSS and the JS heap after a full GC, after the first batch
 * of the run (the warm-up: JIT code, Ink's first frames) and after the last.
 *
 *   node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16 --import tsx \
 *     tools/ui-memory.tsx [--prompts 20000] [--render blocks] [--json]
 *
 * The semi-space flags give V8's young generation its full size from the start. Left to itself it grows
 * to that size once, at a moment that varies from run to run (between prompts 600 and 1,000 on Node 24),
 * and that single step of 27-40 MB of RSS is sizing, not growth; with the flags RSS is flat after the
 * warm-up (2,000 prompts: +0.3 to +1.5 MB on Node 20, 22 and 24). The tool refuses to run without them.
 *
 * The test (test/ui-memory.test.ts) runs 2,000 prompts; HARDENING_FULL=1 makes it run 20,000.
 * Run it with CI unset: Ink writes <Static> output differently when it thinks it runs in CI.
 */
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import React from 'react';
import { render } from 'ink';
import { App } from '../src/ui/app.js';
import type { RenderMode } from '../src/render/terminal.js';
import { createFakeGenerator } from '../test/fake-generator.js';

export interface UiMemoryPoint {
  prompts: number;
  rssMB: number;
  heapMB: number;
}

export interface UiMemoryReport {
  prompts: number;
  render: RenderMode;
  /** After the warm-up: the first tenth of the run. */
  start: UiMemoryPoint;
  end: UiMemoryPoint;
  /** Every measured point (one per 10% of the run). */
  trace: UiMemoryPoint[];
  outputMB: number;
  exitCode: number;
  seconds: number;
}

/** The semi-space size the tool runs with (the header says why), in MB. */
const SEMI_SPACE_MB = 16;

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

function measure(prompts: number): UiMemoryPoint {
  // Two collections: the first can leave weakly held objects for the second.
  global.gc?.();
  global.gc?.();
  const usage = process.memoryUsage();
  return { prompts, rssMB: mb(usage.rss), heapMB: mb(usage.heapUsed) };
}

/** A stdout Ink takes for an 80x24 terminal: it keeps nothing, only counts bytes and remembers the tail. */
class TerminalSink extends Writable {
  isTTY = true;
  columns = 100;
  rows = 40;
  bytes = 0;
  tail = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    const text = chunk.toString();
    this.bytes += Buffer.byteLength(text);
    this.tail = (this.tail + text).slice(-4096);
    done();
  }
}

/** A stdin Ink accepts as a terminal in raw mode. */
type TerminalInput = PassThrough & { isTTY: boolean; setRawMode(mode: boolean): void; ref(): void; unref(): void };
function terminalInput(): TerminalInput {
  const input = new PassThrough() as TerminalInput;
  input.isTTY = true;
  input.setRawMode = () => {};
  input.ref = () => {};
  input.unref = () => {};
  return input;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runUiMemory(options: { prompts: number; render?: RenderMode; batch?: number }): Promise<UiMemoryReport> {
  if (!global.gc) throw new Error('run with node --expose-gc');
  // Read from the flags: V8's heap statistics report the same new-space size with them and without.
  const nodeFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const semiSpaceFixed = ['min', 'max'].every((end) => nodeFlags.includes(`--${end}-semi-space-size=${SEMI_SPACE_MB}`));
  if (!semiSpaceFixed) {
    throw new Error(`run with node --min-semi-space-size=${SEMI_SPACE_MB} --max-semi-space-size=${SEMI_SPACE_MB}: otherwise the young generation grows once during the run, which reads as 27-40 MB of RSS growth`);
  }
  const started = Date.now();
  const mode = options.render ?? 'blocks';
  const batch = options.batch ?? 20;
  const generator = createFakeGenerator();
  const stdout = new TerminalSink();
  const stdin = terminalInput();
  const exits: number[] = [];
  const instance = render(
    <App
      services={{ loadGenerator: async () => generator }}
      checkpointDir="/fake/checkpoint"
      render={mode}
      grid={3}
      sampler="fitted"
      scale={1}
      seed={1}
      backendChoice="auto"
      version="0.0.0-memory"
      onExit={(code) => exits.push(code)}
    />,
    { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, exitOnCtrlC: false, patchConsole: false },
  );
  // Ink unmounts on an error thrown while rendering; waiting would then never end.
  let failure: unknown;
  let exited = false;
  const exit = instance.waitUntilExit().then(
    () => (exited = true),
    (error: unknown) => (failure = error ?? new Error('the app failed')),
  );
  const waitFor = async (check: () => boolean): Promise<void> => {
    while (!check()) {
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error(String(failure));
      if (exited) throw new Error(`the app exited early; its last output: ${JSON.stringify(stdout.tail.slice(-300))}`);
      await tick();
    }
  };
  const promptShown = (): boolean => stdout.tail.includes('input digit to generate:');
  await waitFor(promptShown);
  const trace: UiMemoryPoint[] = [];
  let done = 0;
  let drawn = 0;
  const every = Math.max(batch, Math.round(options.prompts / 10 / batch) * batch);
  while (done < options.prompts) {
    const n = Math.min(batch, options.prompts - done);
    // A paste of n lines: each runs in turn after the one before it is drawn.
    stdin.write('3\r'.repeat(n));
    done += n;
    await waitFor(() => drawn + generator.calls.length === done);
    // The fake generator records its calls; keep only the count, so the tool measures the UI alone.
    drawn += generator.calls.length;
    generator.calls.length = 0;
    // The last draw of the batch is on the screen once its grid has been written.
    await tick();
    await tick();
    if (trace.length === 0 || done % every === 0 || done === options.prompts) trace.push(measure(done));
  }
  const start = trace.find((point) => point.prompts >= every) ?? trace[0]!;
  const end = trace.at(-1)!;
  stdin.write('-1\r');
  await exit;
  if (failure !== undefined) throw failure;
  return { prompts: options.prompts, render: mode, start, end, trace, outputMB: mb(stdout.bytes), exitCode: exits[0] ?? -1, seconds: (Date.now() - started) / 1000 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const at = args.indexOf(flag);
    return at === -1 ? undefined : args[at + 1];
  };
  const prompts = Number(value('--prompts') ?? (process.env.HARDENING_FULL === '1' ? 20000 : 2000));
  if (!Number.isInteger(prompts) || prompts < 1) {
    console.error('error: --prompts takes a positive integer');
    process.exit(2);
  }
  const report = await runUiMemory({ prompts, render: (value('--render') ?? 'blocks') as RenderMode }).catch((error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  });
  if (args.includes('--json')) console.log(JSON.stringify(report));
  else {
    console.log(`${report.prompts} prompts (${report.render}) in ${report.seconds.toFixed(1)} s, ${report.outputMB} MB written, exit ${report.exitCode}`);
    for (const p of report.trace) console.log(`  after ${String(p.prompts).padStart(6)} prompts: RSS ${p.rssMB} MB, heap after GC ${p.heapMB} MB`);
    console.log(`growth from the end of the warm-up (first tenth) to the end: RSS ${(report.end.rssMB - report.start.rssMB).toFixed(1)} MB, heap ${(report.end.heapMB - report.start.heapMB).toFixed(1)} MB`);
  }
}
