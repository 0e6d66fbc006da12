/**
 * The Ink UI's memory over a long session (issue 13, item 1): 2,000 prompts typed into the real App,
 * on Ink's own renderer (not ink-testing-library's debug mode, which keeps every frame), with the
 * fake generator, in a child process with --expose-gc and CI unset (Ink writes <Static> output
 * another way under CI). tools/ui-memory.tsx does the work (its header says why the young generation is
 * fixed at its full size, and why growth is counted from the end of the first tenth); HARDENING_FULL=1
 * runs 20,000.
 * Finished output is written once and dropped from the state (src/ui/scrollback.ts): before that,
 * Ink's <Static> kept a copy of every grid it printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { UiMemoryReport } from '../tools/ui-memory.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const prompts = process.env.HARDENING_FULL === '1' ? 20_000 : 2_000;

test(`Ink UI: ${prompts.toLocaleString('en-US')} prompts in blocks mode grow RSS and the heap after GC by less than 50 MB`, () => {
  const env = { ...process.env };
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  // React in production, as the bin runs it (its development build keeps ~3 KB per render).
  env.NODE_ENV = 'production';
  const run = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16', '--import', 'tsx', 'tools/ui-memory.tsx', '--prompts', String(prompts), '--json'], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as UiMemoryReport;
  process.stderr.write(`${JSON.stringify({ ...report, trace: report.trace.map((p) => `${p.prompts}: ${p.rssMB}/${p.heapMB}`) })}\n`);
  assert.equal(report.exitCode, 0);
  assert.equal(report.prompts, prompts);
  // Every grid reached the terminal: 44 lines of 88 half-blocks each are at least 8 KB per prompt.
  assert.ok(report.outputMB * 2 ** 20 >= prompts * 8 * 1024, `only ${report.outputMB} MB were written`);
  // The heap after a full GC is the robust measure (RSS also holds what V8 has not returned to the
  // system yet); the issue's figure is RSS, so both are held to it.
  assert.ok(report.end.heapMB - report.start.heapMB < 50, `heap after GC grew from ${report.start.heapMB} to ${report.end.heapMB} MB`);
  assert.ok(report.end.rssMB - report.start.rssMB < 50, `RSS grew from ${report.start.rssMB} to ${report.end.rssMB} MB`);
});
