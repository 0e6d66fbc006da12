import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLine } from '../src/prompt/commands.js';

const command = (line: string) => {
  const parsed = parseLine(line);
  assert.equal(parsed.kind, 'command', `${JSON.stringify(line)} should be a command, got ${JSON.stringify(parsed)}`);
  return (parsed as Extract<typeof parsed, { kind: 'command' }>).command;
};
const refusal = (line: string): string => {
  const parsed = parseLine(line);
  assert.equal(parsed.kind, 'invalid', `${JSON.stringify(line)} should be refused, got ${JSON.stringify(parsed)}`);
  const { message } = parsed as Extract<typeof parsed, { kind: 'invalid' }>;
  assert.ok(!message.includes('\n'), 'one line');
  return message;
};

test('lines without a colon keep the notebook meaning', () => {
  assert.deepEqual(parseLine('3'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parseLine('-1'), { kind: 'quit', value: '-1' });
  assert.equal(parseLine('style').kind, 'invalid');
});

test('drawing commands and their arguments', () => {
  assert.deepEqual(command(':style'), { kind: 'style', rows: 4 });
  assert.deepEqual(command('  :style 2 '), { kind: 'style', rows: 2 });
  assert.deepEqual(command(':STYLE'), { kind: 'style', rows: 4 });
  assert.deepEqual(command(':morph 3 8'), { kind: 'morph', from: 3, to: 8 });
  assert.deepEqual(command(':morph 0  0'), { kind: 'morph', from: 0, to: 0 });
  assert.deepEqual(command(':walk'), { kind: 'walk' });
  assert.deepEqual(command(':walk 7'), { kind: 'walk', digit: 7 });
  assert.deepEqual(command(':recon'), { kind: 'recon' });
  assert.deepEqual(command(':help'), { kind: 'help' });
  assert.deepEqual(command(':?'), { kind: 'help' });
});

test(':save takes the rest of the line as the file name', () => {
  assert.deepEqual(command(':save'), { kind: 'save' });
  assert.deepEqual(command(':save docs/grid.png'), { kind: 'save', file: 'docs/grid.png' });
  assert.deepEqual(command(':save my digits.png '), { kind: 'save', file: 'my digits.png' });
});

test('settings: show, set, clear the seed', () => {
  assert.deepEqual(command(':seed'), { kind: 'setting', key: 'seed' });
  assert.deepEqual(command(':seed 42'), { kind: 'setting', key: 'seed', value: 42 });
  assert.deepEqual(command(':seed off'), { kind: 'setting', key: 'seed', value: null });
  assert.deepEqual(command(':scale 0.8'), { kind: 'setting', key: 'scale', value: 0.8 });
  assert.deepEqual(command(':scale'), { kind: 'setting', key: 'scale' });
  assert.deepEqual(command(':sampler prior'), { kind: 'setting', key: 'sampler', value: 'prior' });
  assert.deepEqual(command(':sampler Fitted'), { kind: 'setting', key: 'sampler', value: 'fitted' });
  assert.deepEqual(command(':grid 4'), { kind: 'setting', key: 'grid', value: 4 });
});

test('bad arguments: one line saying what is expected', () => {
  assert.match(refusal(':morph 3'), /^:morph needs two digits 0-9, for example :morph 3 8 \(got "3"\)$/);
  assert.match(refusal(':morph'), /\(got none\)$/);
  assert.match(refusal(':morph 3 10'), /needs two digits/);
  assert.match(refusal(':morph a b'), /needs two digits/);
  assert.match(refusal(':walk 12'), /^:walk takes at most one digit 0-9/);
  assert.match(refusal(':style 0'), /^:style takes a number of rows from 1 to 10/);
  assert.match(refusal(':style 11'), /rows from 1 to 10/);
  assert.match(refusal(':recon 5'), /^:recon takes no arguments \(got "5"\)$/);
  assert.match(refusal(':help me'), /^:help takes no arguments/);
  assert.match(refusal(':seed -1'), /^:seed takes a whole number >= 0, or off/);
  assert.match(refusal(':seed 1.5'), /:seed takes a whole number/);
  assert.match(refusal(':scale 0'), /^:scale takes a number greater than 0/);
  assert.match(refusal(':scale -2'), /greater than 0/);
  assert.match(refusal(':scale abc'), /greater than 0/);
  assert.match(refusal(':scale Infinity'), /greater than 0/);
  assert.match(refusal(':sampler gaussian'), /^:sampler takes fitted or prior \(got "gaussian"\)$/);
  assert.match(refusal(':grid 0'), /^:grid takes an integer from 1 to 10 \(got "0"\)$/);
  assert.match(refusal(':grid 11'), /from 1 to 10/);
  assert.match(refusal(':grid 2 3'), /from 1 to 10/);
});

test('unknown commands get a hint to :help; control bytes are shown, not sent', () => {
  assert.equal(refusal(':stlye'), 'unknown command :stlye; type :help for the commands');
  assert.equal(refusal(':'), 'unknown command :; type :help for the commands');
  assert.match(refusal(':\x1b[31mred'), /\\x1b/);
});
