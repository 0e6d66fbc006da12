import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTick, lossChart, plotSeries } from '../src/present/chart.js';

const history = Array.from({ length: 30 }, (_, i) => ({ epoch: i + 1, recon: 0.06 * Math.exp(-i / 5) + 0.015, kl: 12 + 14 * (1 - Math.exp(-i / 4)), testRecon: 0.017, testKl: 25.1 }));

test('braille chart: both curves with their ranges, axes, the epoch span; fits the width', () => {
  const lines = lossChart(history, { columns: 80, style: 'braille' });
  assert.equal(lines[0], 'loss curves, epochs 1-30 (training means per epoch)');
  assert.match(lines[1]!, /^reconstruction, per-pixel MSE: 0\.0750 → 0\.0152 \(test 0\.0170\)$/);
  assert.ok(lines.some((l) => /^KL, nats per sample: 12\.00 → 25\.99 \(test 25\.10\)$/.test(l)));
  assert.match(lines.at(-1)!, /^ +1 +30 epoch$/);
  assert.ok(lines.every((l) => [...l].length <= 80), 'fits 80 columns');
  assert.ok(lines.every((l) => !l.includes('\x1b')), 'no escapes');
  assert.ok(lines.some((l) => /[\u2801-\u28ff]/.test(l)), 'braille dots');
});

test('the recon curve falls from the top-left to the bottom-right; KL rises', () => {
  const recon = plotSeries(history.map((h) => h.recon), { columns: 40, style: 'ascii', rows: 5 });
  const rows = recon.slice(0, 5).map((l) => l.slice(l.indexOf('|') + 1));
  assert.equal(rows[0]![0], '*', 'first epoch at the top');
  assert.ok(rows[4]!.trimEnd().endsWith('*'), 'last epoch at the bottom');
  assert.match(recon[0]!, /^ ?0\.075 \|/);
  assert.match(recon[4]!, /^0\.0152 \|/);
  const kl = plotSeries(history.map((h) => h.kl), { columns: 40, style: 'ascii', rows: 5 });
  assert.equal(kl[4]!.slice(kl[4]!.indexOf('|') + 1)[0], '*', 'first epoch at the bottom');
});

test('ascii for pipes and dumb terminals: only printable ASCII', () => {
  const lines = lossChart(history.slice(0, 3), { columns: 60, style: 'ascii' });
  assert.ok(lines.every((l) => /^[\x20-\x7e]*$/.test(l)), lines.join('\n'));
  assert.match(lines[1]!, /0\.0750 -> 0\.0552/);
});

test('one epoch is one point; no epochs, no chart', () => {
  const one = lossChart(history.slice(0, 1), { columns: 60, style: 'braille' });
  assert.equal(one[0], 'loss curves, epoch 1 (training means per epoch)');
  assert.deepEqual(lossChart([], { columns: 60, style: 'braille' }), []);
  assert.deepEqual([formatTick(0.058312), formatTick(25.98), formatTick(0.00001234), formatTick(0)], ['0.0583', '26', '1.2e-5', '0']);
});
