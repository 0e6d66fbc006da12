import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, reducer, type Action, type State } from '../src/ui/reducer.js';
import type { RenderedGrid } from '../src/render/terminal.js';

const run = (state: State, ...actions: Action[]): State => actions.reduce(reducer, state);
const model = { backend: 'wasm' as const, checkpoint: { dir: '/c', epochsTrained: 30, trainSamples: 60000, backendTrainedOn: 'tensorflow', hasFittedPrior: true } };
const atPrompt = (): State => run(initialState, { type: 'loaded', model });
const typed = (text: string): Action => ({ type: 'typed', text });
const grid: RenderedGrid = { kind: 'text', mode: 'blocks', lines: ['▀▀'] };

test('loading -> prompt prints the header once', () => {
  const state = atPrompt();
  assert.equal(state.phase, 'prompt');
  assert.deepEqual(state.history.map((h) => h.kind), ['header']);
});

test('a digit goes generating with the echo in history, then the grid and the prompt again', () => {
  const generating = run(atPrompt(), typed('4'), { type: 'submitted' });
  assert.equal(generating.phase, 'generating');
  assert.deepEqual(generating.pending, { input: { kind: 'digit', digit: 4 }, request: 0 });
  assert.equal(generating.input, '');
  assert.deepEqual(generating.history.at(-1), { id: 1, kind: 'input', text: 'input digit to generate: 4' });
  // Submitting again while drawing does nothing.
  assert.equal(run(generating, { type: 'submitted' }), generating);
  const done = run(generating, { type: 'ran', outputs: [{ kind: 'picture', grid }] });
  assert.equal(done.phase, 'prompt');
  assert.equal(done.pending, undefined);
  assert.deepEqual(done.history.at(-1), { id: 2, kind: 'grid', grid });
  const second = run(done, typed('4'), { type: 'submitted' });
  assert.deepEqual(second.pending, { input: { kind: 'digit', digit: 4 }, request: 1 });
});

test('a command goes pending like a digit; its pictures (with captions), messages and errors land in order', () => {
  const pending = run(atPrompt(), typed(':morph 3 8'), { type: 'submitted' });
  assert.equal(pending.phase, 'generating');
  assert.deepEqual(pending.pending?.input, { kind: 'command', command: { kind: 'morph', from: 3, to: 8 } });
  const done = run(pending, { type: 'ran', outputs: [{ kind: 'picture', grid, caption: 'morph: …' }, { kind: 'message', text: 'saved' }, { kind: 'error', text: 'oops' }] });
  assert.equal(done.phase, 'prompt');
  assert.deepEqual(done.history.slice(-3).map((h) => h.kind), ['grid', 'message', 'error']);
  assert.deepEqual(done.history.at(-3), { id: 2, kind: 'grid', grid, caption: 'morph: …' });
  // A bad command is refused at once, like bad input.
  const refused = run(atPrompt(), typed(':morph 3'), { type: 'submitted' });
  assert.equal(refused.phase, 'prompt');
  const last = refused.history.at(-1);
  assert.ok(last?.kind === 'error' && /^:morph needs two digits/.test(last.text));
});

test('training ends with the loss chart in the scrollback', () => {
  const state = run(atPrompt(), { type: 'trainingStarted', epochs: 1, batchSize: 2 }, { type: 'trainingFinished', outcome: { checkpointDir: '/t', epochsTrained: 1, aborted: false, backend: 'wasm' }, message: 'done', chart: ['loss curves', '*'] });
  assert.deepEqual(state.history.slice(-2).map((h) => h.kind), ['info', 'chart']);
});

test('bad input: echo + one error, prompt stays, typing continues', () => {
  const state = run(atPrompt(), typed('a'), typed('bc'), { type: 'submitted' });
  assert.equal(state.phase, 'prompt');
  assert.deepEqual(state.history.slice(1).map((h) => h.kind), ['input', 'error']);
  assert.equal(state.exitCode, undefined);
  assert.equal(run(state, typed('5')).input, '5');
});

test('an out-of-range integer prints the value and exits 0', () => {
  const state = run(atPrompt(), typed('-'), typed('1'), typed('2'), { type: 'submitted' });
  assert.equal(state.phase, 'exiting');
  assert.equal(state.exitCode, 0);
  assert.deepEqual(state.history.at(-1), { id: 2, kind: 'value', text: '-12' });
});

test('editing: backspace removes one character; control bytes and escapes are not typed', () => {
  const state = run(atPrompt(), typed('12'), { type: 'erased' }, typed('\x1b[A'), typed('\t'));
  assert.equal(state.input, '1[A');
  assert.equal(run(atPrompt(), { type: 'erased' }).input, '');
  // Nothing is typed while loading or training.
  assert.equal(run(initialState, typed('3')).input, '');
});

test('quit (Ctrl+C / Ctrl+D) exits 0; a failure exits 1 with one error line', () => {
  assert.deepEqual([run(atPrompt(), { type: 'quit' }).phase, run(atPrompt(), { type: 'quit' }).exitCode], ['exiting', 0]);
  const failed = run(initialState, { type: 'failed', message: 'checkpoint missing' });
  assert.equal(failed.phase, 'error');
  assert.equal(failed.exitCode, 1);
  assert.deepEqual(failed.history.at(-1), { id: 0, kind: 'error', text: 'checkpoint missing' });
  const genFail = run(atPrompt(), typed('1'), { type: 'submitted' }, { type: 'generateFailed', message: 'boom' });
  assert.equal(genFail.phase, 'prompt');
  assert.equal(genFail.history.at(-1)?.kind, 'error');
});

test('training: progress, epochs into history, stop request, then loading the trained model', () => {
  const report = { epoch: 1, epochs: 3, batch: 5, batches: 10, loss: 1, recon: 0.5, kl: 3, samplesPerSec: 100 };
  let state = run(initialState, { type: 'trainingStarted', epochs: 3, batchSize: 128 }, { type: 'status', message: 'loading MNIST' });
  assert.equal(state.phase, 'training');
  assert.equal(state.training?.status, 'loading MNIST');
  state = run(state, { type: 'batch', report });
  assert.deepEqual(state.training?.batch, report);
  const epoch = { epoch: 1, epochs: 3, loss: 1, recon: 0.5, kl: 3, testRecon: 0.6, testKl: 3.1, seconds: 9 };
  state = run(state, { type: 'epoch', report: epoch, preview: grid }, { type: 'stopRequested' });
  assert.equal(state.training?.stopping, true);
  assert.deepEqual(state.history.map((h) => h.kind), ['epoch']);
  state = run(state, { type: 'trainingFinished', outcome: { checkpointDir: '/t', epochsTrained: 1, aborted: true, backend: 'wasm' }, message: 'stopped' });
  assert.equal(state.phase, 'loading');
  assert.equal(state.training, undefined);
  assert.equal(run(state, { type: 'loaded', model }).phase, 'prompt');
});

test('everything already printed leaves the state (a REPL open for hours stays small)', () => {
  const other: RenderedGrid = { kind: 'text', mode: 'blocks', lines: ['▄▄'] };
  let state = run(atPrompt(), typed('1'), { type: 'submitted' }, { type: 'ran', outputs: [{ kind: 'picture', grid }] });
  const first = state.history.at(-1)!;
  state = run(state, typed('2'), { type: 'submitted' }, { type: 'ran', outputs: [{ kind: 'picture', grid: other }] });
  // Not printed yet: both grids intact, even when several entries arrive before a render.
  assert.deepEqual(state.history.map((h) => h.kind), ['header', 'input', 'grid', 'input', 'grid']);
  state = run(state, { type: 'printed', upTo: first.id + 1 });
  // Only what is still on its way to the terminal stays, in order, with its ids.
  assert.deepEqual(state.history.map((h) => h.kind), ['input', 'grid']);
  const last = state.history.at(-1);
  assert.ok(last?.kind === 'grid' && last.grid === other);
  assert.equal(run(state, { type: 'printed', upTo: first.id + 1 }), state); // nothing new: same state, no render
  state = run(state, { type: 'printed', upTo: last.id + 1 });
  assert.deepEqual(state.history, []);
  assert.equal(state.nextId, last.id + 1, 'ids keep counting');
});
