/**
 * The prompt's reading of a line, against Python's int() as the notebook's `int(label)` uses it, and
 * how typed text is shown back. Cases found by mutation testing (tools/mutation/prompt.json).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipInput, displayable, MAX_INT_DIGITS, MAX_SHOWN_INPUT, parsePromptInput, PROMPT } from '../src/prompt/input.js';

test('the prompt is the notebook\'s: input("input digit to generate: \\n")', () => {
  assert.equal(PROMPT, 'input digit to generate:');
});

test('0 to 9 draw, every other integer quits with the value Python would print, both ends included', () => {
  for (let d = 0; d <= 9; d++) assert.deepEqual(parsePromptInput(String(d)), { kind: 'digit', digit: d });
  assert.deepEqual(parsePromptInput('10'), { kind: 'quit', value: '10' });
  assert.deepEqual(parsePromptInput('-1'), { kind: 'quit', value: '-1' });
  assert.deepEqual(parsePromptInput('-0'), { kind: 'digit', digit: 0 });
  assert.deepEqual(parsePromptInput('+7'), { kind: 'digit', digit: 7 });
  assert.deepEqual(parsePromptInput('007'), { kind: 'digit', digit: 7 });
  assert.deepEqual(parsePromptInput('1_0'), { kind: 'quit', value: '10' });
  assert.deepEqual(parsePromptInput('1_000_000'), { kind: 'quit', value: '1000000' });
  assert.deepEqual(parsePromptInput('0099'), { kind: 'quit', value: '99' });
  assert.deepEqual(parsePromptInput('123456789012345678901234567890'), { kind: 'quit', value: '123456789012345678901234567890' });
});

test('like int(): surrounding whitespace (NEL included) and digits of any script, nothing else', () => {
  assert.deepEqual(parsePromptInput('  \t3  \n'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parsePromptInput('\u0085\u00853\u0085\u0085'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parsePromptInput('３'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parsePromptInput('٣'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parsePromptInput('１２'), { kind: 'quit', value: '12' });
  for (const bad of ['1__0', '_1', '1_', '3.5', '1e3', 'abc', '3 4', '--1', '0x3', '٣.٠']) assert.equal(parsePromptInput(bad).kind, 'invalid', bad);
});

test('a refusal quotes what was typed, cut at 20 characters, and names an empty line', () => {
  const refusal = (line: string) => {
    const parsed = parsePromptInput(line);
    assert.equal(parsed.kind, 'invalid');
    return (parsed as { message: string }).message;
  };
  assert.match(refusal(''), /\(got an empty line\)$/);
  assert.match(refusal('   '), /\(got an empty line\)$/);
  assert.match(refusal('a'.repeat(20)), new RegExp(`\\(got "${'a'.repeat(20)}"\\)$`));
  assert.match(refusal(`${'b'.repeat(20)}c`), new RegExp(`\\(got "${'b'.repeat(20)}…"\\)$`));
  assert.match(refusal('x\x1b[31m'), /\(got "x\\x1b\[31m"\)$/);
});

test('at most 4300 digits, as Python: one more is refused with the count, before it is printed back', () => {
  const longest = parsePromptInput('1'.repeat(MAX_INT_DIGITS));
  assert.equal(longest.kind, 'quit');
  assert.equal((longest as { value: string }).value.length, MAX_INT_DIGITS);
  assert.deepEqual(parsePromptInput(`1${'_1'.repeat(MAX_INT_DIGITS - 1)}`).kind, 'quit', 'underscores do not count as digits');
  const over = parsePromptInput('1'.repeat(MAX_INT_DIGITS + 1));
  assert.deepEqual(over, { kind: 'invalid', message: `expected an integer of at most 4300 digits, as Python's int() (got 4,301 digits)` });
});

test('displayable shows control, invisible and bidi characters as escapes and leaves the rest', () => {
  assert.equal(displayable('a\x01b'), 'a\\x01b');
  assert.equal(displayable('\x1b[2J'), '\\x1b[2J');
  assert.equal(displayable('\x7f\x9f'), '\\x7f\\x9f');
  assert.equal(displayable('a\u200bb'), 'a\\u200bb');
  assert.equal(displayable('\u202e\ufeff'), '\\u202e\\ufeff');
  assert.equal(displayable('héllo ３ ÿ'), 'héllo ３ ÿ');
});

test('clipInput keeps the start of an echo or the end of the live prompt, with the length in characters', () => {
  const fits = 'x'.repeat(MAX_SHOWN_INPUT);
  assert.equal(clipInput(fits, 'start'), fits);
  assert.equal(clipInput(fits, 'end'), fits);
  const long = `${'a'.repeat(MAX_SHOWN_INPUT)}${'z'.repeat(1000)}`;
  assert.equal(clipInput(long, 'start'), `${'a'.repeat(MAX_SHOWN_INPUT)}… (1,200 characters)`);
  assert.equal(clipInput(long, 'end'), `(1,200 characters) …${'z'.repeat(MAX_SHOWN_INPUT)}`);
  // Characters, not UTF-16 units: an astral digit counts once.
  assert.match(clipInput('𝟑'.repeat(150), 'start'), /\(150 characters\)$/);
});
