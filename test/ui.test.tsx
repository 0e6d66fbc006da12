import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import React from 'react';
import { render } from 'ink-testing-library';
import { App, type AppProps } from '../src/ui/app.js';
import type { EpochReport, TrainCallbacks, TrainOutcome } from '../src/engine/types.js';
import { createFakeGenerator, fakeDigit } from './fake-generator.js';

const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

/** Polls until `check` holds (effects and generation are async), failing after a timeout. */
async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function setup(overrides: Partial<AppProps> = {}) {
  const generator = createFakeGenerator();
  const exits: number[] = [];
  const props: AppProps = {
    services: { loadGenerator: async () => generator },
    checkpointDir: '/fake/checkpoint',
    render: 'blocks',
    grid: 3,
    sampler: 'fitted',
    scale: 1,
    backendChoice: 'auto',
    version: '0.0.0-test',
    onExit: (code) => exits.push(code),
    ...overrides,
  };
  const app = render(<App {...props} />);
  // Finished output is written once, above the live frame (src/ui/scrollback.ts): the screen is every write in order.
  const frame = (): string => stripAnsi(app.frames.join('\n'));
  // After exit the last frame is only the (empty) live area under CI=true, so exit tests read every frame.
  const everything = (): string => stripAnsi(app.frames.join(''));
  return { app, generator, exits, frame, everything };
}

async function type(app: ReturnType<typeof render>, text: string): Promise<void> {
  for (const ch of text) {
    app.stdin.write(ch);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

test('a digit draws a 3x3 grid of half-blocks and the prompt comes back', async () => {
  const { app, generator, frame } = setup();
  await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
  // The header says which render mode draws (issue 15); here it was given, as --render would.
  assert.match(frame(), /backend cpu · sampler fitted · render blocks \(as asked\)\ncheckpoint \/fake\/checkpoint \(30 epochs on 60,000 images/);
  assert.match(frame(), /hint: `npm install @tensorflow\/tfjs-node`/); // auto chose cpu: one short hint
  await type(app, '3');
  app.stdin.write('\r');
  await waitFor(() => generator.calls.length === 1 && frame().trimEnd().endsWith('input digit to generate:'), 'the grid and a fresh prompt');
  assert.deepEqual(generator.calls[0]!.digit, 3);
  assert.equal(generator.calls[0]!.n, 9);
  const raw = app.frames.join('\n');
  // 3 tiles of 28 px + 2 gaps of 2 px = 88 columns, two pixel rows per line = 44 lines of '▀'.
  const blockLines = stripAnsi(raw).split('\n').filter((l) => l.startsWith('▀'));
  assert.equal(blockLines.length, 44);
  assert.ok(blockLines.every((l) => [...l].length === 88));
  assert.match(raw, /\x1b\[38;2;\d+;\d+;\d+m/); // 24-bit colour
  assert.match(frame(), /input digit to generate: 3\n/); // the submitted line stays in the scrollback
  // A second prompt adds a second grid below the first: the scrollback keeps both, in order.
  app.stdin.write('8');
  app.stdin.write('\r');
  await waitFor(() => generator.calls.length === 2 && frame().trimEnd().endsWith('input digit to generate:'), 'the second grid');
  const scroll = frame();
  assert.equal(scroll.split('\n').filter((l) => l.startsWith('▀')).length, 88);
  assert.ok(scroll.indexOf('input digit to generate: 3') < scroll.indexOf('input digit to generate: 8'));
  app.unmount();
});

test('bad input prints a one-line error and the prompt stays', async () => {
  const { app, exits, frame, generator } = setup();
  await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
  for (const bad of ['abc', '3.5', '1e3', '']) {
    await type(app, bad);
    app.stdin.write('\r');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const errors = frame().split('\n').filter((l) => l.startsWith('error: expected an integer'));
  assert.equal(errors.length, 4);
  assert.match(frame(), /got "abc"/);
  assert.match(frame(), /got an empty line/);
  assert.equal(generator.calls.length, 0);
  assert.deepEqual(exits, []);
  assert.ok(frame().trimEnd().endsWith('input digit to generate:'));
  // ' 7 ' is an integer with spaces: it draws 7.
  await type(app, ' 7 ');
  app.stdin.write('\r');
  await waitFor(() => generator.calls.length === 1, 'a draw of 7');
  assert.equal(generator.calls[0]!.digit, 7);
  app.unmount();
});

test('an integer outside 0-9 is printed and the app exits with code 0', async () => {
  const { app, exits, frame, everything, generator } = setup();
  await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
  await type(app, '-7');
  app.stdin.write('\r');
  await waitFor(() => exits.length === 1, 'exit');
  assert.deepEqual(exits, [0]);
  assert.match(everything(), /input digit to generate: -7\n-7/);
  assert.equal(generator.disposed, true);
});

test('Ctrl+D and Ctrl+C at the prompt exit cleanly with code 0', async () => {
  for (const key of ['\x04', '\x03']) {
    const { app, exits, frame, generator } = setup();
    await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
    app.stdin.write(key);
    await waitFor(() => exits.length === 1, 'exit');
    assert.deepEqual(exits, [0]);
    assert.equal(generator.disposed, true);
  }
});

test('kitty mode writes the grid as a PNG payload outside the live frame, nothing as text', async () => {
  const { app, frame } = setup({ render: 'kitty' });
  await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
  app.stdin.write('5');
  app.stdin.write('\r');
  await waitFor(() => app.frames.some((f) => f.includes('\x1b_G')), 'a kitty payload');
  const written = app.frames.join('');
  const first = /\x1b_Ga=T,f=100,[^;]*;([A-Za-z0-9+/=]+)\x1b\\/.exec(written);
  assert.ok(first !== null);
  assert.equal(Buffer.from(first[1]!, 'base64').subarray(1, 4).toString(), 'PNG');
  assert.ok(!stripAnsi(app.lastFrame() ?? '').includes('▀'));
  app.unmount();
});

test('a failing load is one error line and exit code 1', async () => {
  const { app, exits, everything } = setup({ services: { loadGenerator: async () => Promise.reject(new Error('no checkpoint in /nowhere: run `cvae-repl train`')) } });
  await waitFor(() => exits.length === 1, 'exit');
  assert.deepEqual(exits, [1]);
  assert.match(everything(), /error: no checkpoint in \/nowhere/);
  app.unmount();
});

test('--train shows progress and a preview per epoch, Ctrl+C stops it, then the prompt opens on the trained model', async () => {
  const generator = createFakeGenerator();
  const loaded: string[] = [];
  const trained: TrainOutcome[] = [];
  let release: () => void = () => {};
  const train = async (callbacks: TrainCallbacks): Promise<TrainOutcome> => {
    const epochs = 5;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      for (let batch = 1; batch <= 4; batch++) {
        if (callbacks.signal?.aborted === true) return { checkpointDir: '/tmp/trained', epochsTrained: epoch - 1, aborted: true, backend: 'cpu' };
        await callbacks.onBatchEnd?.({ epoch, epochs, batch, batches: 4, loss: 0.05, recon: 0.04, kl: 20, samplesPerSec: 100 });
        // Epoch 2 waits for the test to press Ctrl+C.
        if (epoch === 2 && batch === 2) await new Promise<void>((resolve) => (release = resolve));
      }
      const preview = Array.from({ length: 10 }, (_, d) => fakeDigit(d, epoch));
      const report: EpochReport = { epoch, epochs, loss: 0.05, recon: 0.04, kl: 20, testRecon: 0.041, testKl: 19, seconds: 3, savedTo: '/tmp/trained', preview };
      await callbacks.onEpochEnd?.(report);
    }
    return { checkpointDir: '/tmp/trained', epochsTrained: epochs, aborted: false, backend: 'cpu' };
  };
  const { app, exits, frame } = setup({
    services: { loadGenerator: async (dir) => (loaded.push(dir), generator), train, onTrained: (o) => trained.push(o) },
    training: { epochs: 5, batchSize: 128 },
  });
  await waitFor(() => frame().includes('epoch 2/5') && frame().includes('2/4 batches'), 'progress in epoch 2');
  assert.match(frame(), /epoch 1\/5 · loss 0\.0500 · recon 0\.0400 · KL 20\.00 · test recon 0\.0410/);
  assert.match(frame(), /100 samples\/s · ETA \d/);
  assert.match(frame(), /[█░]{10,}/);
  app.stdin.write('\x03');
  await waitFor(() => frame().includes('stopping after this batch'), 'the stop notice');
  release();
  await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
  assert.match(frame(), /training stopped; kept the last complete checkpoint \(1 epoch\) in \/tmp\/trained/);
  // The loss curves of the epochs that finished, in braille (the grids are half-blocks).
  assert.match(frame(), /loss curves, epoch 1 \(training means per epoch\)\nreconstruction, per-pixel MSE: 0\.0400 → 0\.0400 \(test 0\.0410\)/);
  assert.match(frame(), /KL, nats per sample: 20\.00 → 20\.00 \(test 19\.00\)/);
  assert.deepEqual(loaded, ['/tmp/trained']);
  assert.equal(trained.length, 1);
  assert.deepEqual(exits, []);
  app.unmount();
});

test('commands at the prompt: :help lists them, :morph draws a captioned strip, :save writes it, :grid changes the next draw and is saved', async () => {
  const saved: Array<[string, unknown]> = [];
  const generator = createFakeGenerator();
  const { app, frame } = setup({ services: { loadGenerator: async () => generator, saveSetting: (key, value) => saved.push([key, value]) } });
  await waitFor(() => frame().includes('input digit to generate:'), 'the prompt');
  await type(app, ':help');
  app.stdin.write('\r');
  await waitFor(() => frame().includes(':sampler NAME'), 'the command list');
  assert.match(frame(), /^:morph A B +one handwriting, the label blended from digit A to digit B/m);
  await type(app, ':morph 3 8');
  app.stdin.write('\r');
  await waitFor(() => frame().includes('morph: one z, the label blended from 3 to 8 in 10 steps'), 'the morph caption');
  await waitFor(() => frame().trimEnd().endsWith('input digit to generate:'), 'the prompt after the strip');
  // ink-testing-library's terminal is 100 columns: the strip of ten wraps to 3 tiles per row (4 rows).
  const strip = frame().split('\n').filter((l) => l.startsWith('▀'));
  assert.equal(strip.length, 4 * 14 + 3);
  assert.ok(strip.every((l) => [...l].length === 88));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-ui-save-'));
  await type(app, `:save ${dir}/strip`);
  app.stdin.write('\r');
  await waitFor(() => frame().includes('saved the morph picture'), 'the save message');
  assert.match(frame(), new RegExp(`saved the morph picture to ${dir}/strip\\.png \\(1192x112 px\\)`));
  assert.ok(fs.existsSync(path.join(dir, 'strip.png')));
  await type(app, ':grid 2');
  app.stdin.write('\r');
  await waitFor(() => frame().includes('grid = 2 (saved)'), 'the grid message');
  await type(app, ':bogus');
  app.stdin.write('\r');
  await waitFor(() => frame().includes('error: unknown command :bogus; type :help for the commands'), 'the hint');
  await type(app, '6');
  app.stdin.write('\r');
  await waitFor(() => generator.calls.length === 1, 'a draw');
  assert.equal(generator.calls[0]!.n, 4);
  assert.deepEqual(saved, [['grid', 2]]);
  app.unmount();
});
