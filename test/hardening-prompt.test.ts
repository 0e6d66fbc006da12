/**
 * Hardening (issue 7): whatever is typed or piped at the prompt, and whatever flags are given, the app
 * answers with the notebook's rules or one line, and never crashes or prints a stack trace.
 *
 * Decision on Unicode digits: the prompt reads a line as the notebook's Python `int(label)` does, so
 * '３' (a full-width IME) and '٣' (Arabic-Indic) draw a 3, and '٣٣' quits printing 33. The fuzz below
 * checks that against Python itself when python3 is installed. One deliberate difference: a U+FEFF
 * byte-order mark (the first line of a file saved by some editors) is stripped like whitespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import React from 'react';
import { render } from 'ink-testing-library';
import { parseArgs, UsageError } from '../src/args.js';
import { runLineMode } from '../src/repl/line-mode.js';
import { App } from '../src/ui/app.js';
import { createEscapeFilter, withoutEscapeSequences } from '../src/ui/key-filter.js';
import { displayable, parsePromptInput } from '../src/prompt/input.js';
import { createInputParser } from '../node_modules/ink/build/input-parser.js';
import parseKeypress from '../node_modules/ink/build/parse-keypress.js';
import { createFakeGenerator } from './fake-generator.js';
import { runBin as runBinFromSource, type BinResult } from './run-bin.js';

const STACK_FRAME = /^\s+at .+[:(]/m;
// Control characters a terminal would act on: none may reach the screen from user input.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** A small seeded PRNG so a failing case can be repeated. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.HARDENING_SEED ?? 1);

function randomLine(random: () => number, alphabet: readonly string[], maxLength: number): string {
  let s = '';
  const length = Math.floor(random() * (maxLength + 1));
  // Half the characters from the first eight (digits, signs, '_', space): many lines are near-integers.
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * (random() < 0.5 ? 8 : alphabet.length))]!;
  return s;
}

const PROMPT_ALPHABET = ['0', '1', '3', '9', '+', '-', '_', ' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2003', '\u3000', '\u0085', '\u2028', '\x1c', '\x00', '\x1b', '\x9b', 'a', '.', 'e', 'x', '３', '٣', '۷', '५', '๒', '𝟑', '١', '\u200b', '\u202e', '🙂', 'é'];

test('prompt fuzz: 20,000 lines give a digit, a quit value or a one-line printable error, never a throw', () => {
  const random = prng(SEED);
  for (let n = 0; n < 20_000; n++) {
    const line = randomLine(random, [...PROMPT_ALPHABET, '\ufeff', '\ud800'], 8);
    const parsed = parsePromptInput(line);
    const where = `input ${JSON.stringify(line)} (HARDENING_SEED=${SEED})`;
    if (parsed.kind === 'digit') assert.ok(Number.isInteger(parsed.digit) && parsed.digit >= 0 && parsed.digit <= 9, where);
    else if (parsed.kind === 'quit') assert.match(parsed.value, /^-?[1-9]\d+$|^-[1-9]$/, where);
    else {
      assert.ok(!parsed.message.includes('\n') && parsed.message.length < 200, where);
      assert.ok(!RAW_CONTROL.test(parsed.message) && !/[\u200b\u202e]/.test(parsed.message), `control or invisible character in the error for ${where}`);
    }
  }
});

test('prompt: Unicode digits, whitespace, huge integers and long lines as the notebook reads them', () => {
  assert.deepEqual(parsePromptInput('３'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parsePromptInput('٣'), { kind: 'digit', digit: 3 });
  assert.deepEqual(parsePromptInput('𝟑'), { kind: 'digit', digit: 3 }); // mathematical bold: a run of 50 digits
  assert.deepEqual(parsePromptInput('५'), { kind: 'digit', digit: 5 }); // Devanagari
  assert.deepEqual(parsePromptInput('\u00a0\t7\u3000 '), { kind: 'digit', digit: 7 });
  assert.deepEqual(parsePromptInput('1٣'), { kind: 'quit', value: '13' });
  assert.deepEqual(parsePromptInput('-１'), { kind: 'quit', value: '-1' });
  assert.deepEqual(parsePromptInput('99999999999999999999'), { kind: 'quit', value: '99999999999999999999' });
  // Python's int() reads at most 4300 digits (ValueError beyond); the notebook would crash, we say so.
  assert.deepEqual(parsePromptInput(`-${'9'.repeat(4300)}`), { kind: 'quit', value: `-${'9'.repeat(4300)}` });
  const tooLong = parsePromptInput(`-${'9'.repeat(4301)}`);
  assert.ok(tooLong.kind === 'invalid' && tooLong.message === "expected an integer of at most 4300 digits, as Python's int() (got 4,301 digits)");
  const long = parsePromptInput('x'.repeat(1_000_000));
  assert.ok(long.kind === 'invalid' && long.message.endsWith('(got "xxxxxxxxxxxxxxxxxxxx…")'));
  const emoji = parsePromptInput('🙂'.repeat(30));
  assert.ok(emoji.kind === 'invalid' && emoji.message.includes(`"${'🙂'.repeat(20)}…"`), 'cut between characters, not inside a surrogate pair');
  const escape = parsePromptInput('\x1b[31mred');
  assert.ok(escape.kind === 'invalid' && escape.message.includes('"\\x1b[31mred"'));
  assert.equal(displayable('a\u202eb\u200bc\x7f'), 'a\\u202eb\\u200bc\\x7f');
});

const python = spawnSync('python3', ['-c', 'print(1)']).status === 0 ? 'python3' : undefined;

test('prompt fuzz against Python: the same verdict and value as int() for 5,000 lines', { skip: python === undefined ? 'python3 is not installed' : false }, () => {
  const random = prng(SEED + 1);
  // Digits of long-settled scripts only, so the Unicode versions of Node and Python agree.
  const lines = Array.from({ length: 5000 }, () => randomLine(random, PROMPT_ALPHABET, 7));
  const script = `
import json, sys
out = []
for s in json.load(sys.stdin):
    try:
        v = int(s)
        out.append(['digit', v] if 0 <= v <= 9 else ['quit', str(v)])
    except ValueError:
        out.append(['invalid'])
print(json.dumps(out))`;
  const result = spawnSync(python!, ['-c', script], { input: JSON.stringify(lines), encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const expected = JSON.parse(result.stdout) as unknown[][];
  const differ = lines.flatMap((line, i) => {
    const p = parsePromptInput(line);
    const ours = p.kind === 'digit' ? ['digit', p.digit] : p.kind === 'quit' ? ['quit', p.value] : ['invalid'];
    return JSON.stringify(ours) === JSON.stringify(expected[i]) ? [] : [`${JSON.stringify(line)}: ours ${JSON.stringify(ours)}, int() ${JSON.stringify(expected[i])}`];
  });
  assert.deepEqual(differ.slice(0, 10), []);
});

function sink(): { write(text: string): boolean; text: () => string } {
  let out = '';
  return { write: (text: string) => ((out += text), true), text: () => out };
}

test('line mode: random bytes, control characters, a 1 MB line, pasted lines and CRLF, then ３ and a huge integer', async () => {
  const random = prng(SEED + 2);
  const noise = Buffer.from(Array.from({ length: 64 * 1024 }, () => Math.floor(random() * 256)));
  const generator = createFakeGenerator();
  const stdout = sink();
  const stderr = sink();
  const input = new PassThrough();
  // Random bytes may hold newlines and stray digits: count what they submit the way line mode will.
  const noiseLines = noise.toString('utf8').split(/\r\n|\r|\n/);
  const expectedDigits: number[] = [];
  const parts: Array<string | Buffer> = [noise, '\n', `${'7'.repeat(1_000_000)}x\n`, '\x1b[31m\x07\b\x00 5 \n', '2\n\u0663\r\n', ' +0_1 \n', '３\n', '99999999999999999999\n', '4\n'];
  for (const line of noiseLines) {
    const p = parsePromptInput(line);
    if (p.kind === 'quit') assert.fail(`the random bytes quit early (${p.value}); pick another HARDENING_SEED`);
    if (p.kind === 'digit') expectedDigits.push(p.digit);
  }
  // '\x1b[31m\x07\b\x00 5 ' is not an integer for int() either: control characters are not whitespace.
  expectedDigits.push(2, 3, 1, 3);
  const started = Date.now();
  const running = runLineMode({
    services: { loadGenerator: async () => generator },
    checkpointDir: '/fake',
    input,
    stdout,
    stderr,
    render: 'ascii',
    columns: 80,
    grid: 1,
    sampler: 'fitted',
    scale: 1,
    backendChoice: 'auto',
    version: 'test',
  });
  for (const part of parts) input.write(part);
  input.end();
  assert.equal(await running, 0);
  assert.deepEqual(generator.calls.map((c) => c.digit), expectedDigits);
  const out = stdout.text();
  assert.ok(out.endsWith('input digit to generate: 99999999999999999999\n99999999999999999999\n'), 'the value is printed and the loop ends there (4 is never read)');
  assert.ok(!RAW_CONTROL.test(out), 'no control byte from the input reaches stdout (ascii grids have none of their own)');
  // A random line that starts with ':' is read as a command (issue 6): an unknown one gets the :help hint.
  for (const line of stderr.text().trimEnd().split('\n').slice(4)) assert.match(line, /^error: (expected an integer: .*\(got (an empty line|".+")\)|unknown command :.*; type :help for the commands|:\w+ .*)$/u);
  assert.ok(!RAW_CONTROL.test(stderr.text()), 'errors show control bytes as escapes');
  assert.ok(stderr.text().includes('(got "\\x1b[31m\\x07\\x08\\x00 5")'));
  assert.ok(Date.now() - started < 20_000, 'a 1 MB line does not stall the loop');
  assert.equal(generator.disposed, true);
});

/** The bin from source with piped stdin, the fake generator and private settings. */
function runBin(args: string[], input: string | Buffer = ''): Promise<BinResult> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cvae-hardening-prompt-'));
  return runBinFromSource(args, { CVAE_REPL_FAKE_GENERATOR: '1', CVAE_REPL_CONFIG_DIR: configDir, CVAE_REPL_DATA_DIR: path.join(configDir, 'data'), NO_COLOR: '1' }, input);
}

test('the bin in line mode: random bytes and a 1 MB line, then ３ and 99999999999999999999 -> the value, exit 0, no stack trace', async () => {
  const random = prng(SEED + 3);
  const noise = Buffer.from(Array.from({ length: 16 * 1024 }, () => Math.floor(random() * 256)).filter((b) => b !== 0x0a && b !== 0x0d));
  const input = Buffer.concat([noise, Buffer.from(`\n${'q'.repeat(1_000_000)}\n\u001b[1;5P\n３\n99999999999999999999\n`)]);
  const { code, out, err } = await runBin(['--grid', '1'], input);
  assert.equal(code, 0, err);
  assert.ok(out.endsWith('input digit to generate: 99999999999999999999\n99999999999999999999\n'));
  assert.equal(out.split('input digit to generate: ３\n').length, 2, 'the full-width 3 is echoed and drawn once');
  assert.ok(!STACK_FRAME.test(out + err));
  assert.ok(!RAW_CONTROL.test(out), 'no control byte from the input is echoed');
});

test('flag fuzz: 3,000 random command lines parse or give a one-line UsageError, nothing else', () => {
  const random = prng(SEED + 4);
  const tokens = ['train', 'sample', 'config', 'eval', 'set', 'reset', '--epochs', '--count', '--grid', '--scale', '--seed', '--lr', '--limit', '--render', '--sampler',
    '--checkpoint', '--resume', '--train', '--help', '-h', '-v', '--', '-', '--=', '--epochs=', '-3', '0', '3', '٣', '３', '99999999999999999999', '1e3', 'NaN', 'Infinity',
    '0x10', ' 4 ', '', 'blocks', 'kitty', 'prior', '--bogus', '-x', '--digit', '\x1b[31m', '🙂', '--out', 'a.png', '--cols', '--pad', '--backend', 'wasm', '--data-dir'];
  for (let n = 0; n < 3000; n++) {
    const argv = Array.from({ length: Math.floor(random() * 6) }, () => tokens[Math.floor(random() * tokens.length)]!);
    try {
      parseArgs(argv);
    } catch (error) {
      assert.ok(error instanceof UsageError, `${JSON.stringify(argv)} threw ${String(error)}`);
      assert.ok(!error.message.includes('\n') && !error.hint.includes('\n'), `${JSON.stringify(argv)}: one line each`);
    }
  }
});

test('the bin: bad flags exit 2 with an error line and a hint, never a stack trace', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', '--epochs', '-3'], /^error: --epochs must be a positive integer \(got -3\)$/],
    [['sample', '3', '--count', '0'], /^error: --count must be an integer from 1 to 400 \(got 0\)$/],
    [['--bogus'], /^error: unknown flag --bogus$/],
    [['train', '--epochs', '99999999999999999999'], /^error: --epochs must be a positive integer/],
    [['sample', '٣', '--out', 'x.png'], /^error: --digit must be an integer from 0 to 9 \(got ٣\)$/],
    [['--scale', 'NaN'], /^error: --scale must be a number greater than 0/],
  ];
  const results = await Promise.all(cases.map(([args]) => runBin(args)));
  results.forEach(({ code, out, err }, i) => {
    const [args, message] = cases[i]!;
    assert.equal(code, 2, `${args.join(' ')}: ${err}`);
    assert.equal(out, '');
    const lines = err.trimEnd().split('\n');
    assert.equal(lines.length, 2, `${args.join(' ')}: an error line and a hint:\n${err}`);
    assert.match(lines[0]!, message);
    assert.match(lines[1]!, /--help|cvae-repl/);
    assert.ok(!STACK_FRAME.test(err));
  });
});

test('keys: escape sequences that crash Ink 6.8 (Ctrl+F1, SGR, focus reports) are filtered out; text passes unchanged', () => {
  // What Ink's useInput does with a key: `input = key.name` when ctrl is set, then input.startsWith(...).
  const crashes = (chunk: string): boolean => {
    const parser = createInputParser();
    const events = [...parser.push(chunk), parser.flushPendingEscape() ?? ''].filter((e) => e !== '');
    return events.some((e) => {
      const key = parseKeypress(e);
      return key.ctrl && !key.isKittyProtocol && typeof key.name !== 'string';
    });
  };
  assert.ok(crashes('\x1b[1;5P') && crashes('\x1b[31m'), 'the Ink bug is still there: if this fails, Ink was fixed and key-filter.ts can go');
  const random = prng(SEED + 5);
  const pieces = ['\x1b', '[', 'O', '1', ';', '5', '31', 'm', 'P', 'A', '~', '3', 'x', '\r', '\x03', '\x7f', '٣', '🙂', '[200~', '\x1b\x1b'];
  for (let n = 0; n < 5000; n++) {
    const text = Array.from({ length: 1 + Math.floor(random() * 8) }, () => pieces[Math.floor(random() * pieces.length)]!).join('');
    // Split where a terminal read might: the filter holds an unfinished sequence until it is complete.
    const cut = Math.floor(random() * (text.length + 1));
    const filter = createEscapeFilter();
    const chunks = [filter.push(text.slice(0, cut)), filter.push(text.slice(cut))];
    for (const chunk of chunks) assert.ok(!crashes(chunk), `${JSON.stringify(text)} cut at ${cut} still crashes Ink (HARDENING_SEED=${SEED})`);
    assert.ok(!chunks.join('').includes('\x1b'));
  }
  const plain = createEscapeFilter();
  assert.equal(plain.push('3\r٣\r🙂abc\x7f\x03'), '3\r٣\r🙂abc\x7f\x03');
  const lone = createEscapeFilter();
  assert.deepEqual([lone.push('\x1b'), lone.push('7\r')], ['', '7\r'], 'a lone Escape does not swallow the next key');
});

test('keys: the filtered stdin Ink reads from drops the sequences and keeps the rest of the stream', () => {
  const stdin = new Readable({ read() {} }) as unknown as NodeJS.ReadStream;
  const filtered = withoutEscapeSequences(stdin);
  (stdin as unknown as Readable).push('\x1b[1;5P3\x1b[31m\r');
  assert.equal(String(filtered.read()), '3\r');
  assert.equal(filtered.read(), null);
  assert.equal(typeof filtered.on, 'function');
});

/** The Ink app on a fake generator, as a person at a terminal would meet it; `exits` collects exit codes. */
function renderApp(generator: ReturnType<typeof createFakeGenerator>) {
  const exits: number[] = [];
  const app = render(React.createElement(App, {
    services: { loadGenerator: async () => generator },
    checkpointDir: '/fake',
    render: 'ascii',
    grid: 1,
    sampler: 'fitted',
    scale: 1,
    backendChoice: 'auto',
    version: 'test',
    onExit: (code: number) => exits.push(code),
  }));
  return { app, exits };
}

/** Polls until `check` holds; fails after `limitMs` with the last frame (a hang detector, not a timing). */
async function waitUntil(app: ReturnType<typeof render>, check: () => boolean, what: string, limitMs: number): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > limitMs) assert.fail(`timed out waiting for ${what}:\n${(app.lastFrame() ?? "").slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('Ink UI: pasted lines are each submitted in order, also while a grid is being drawn; escape sequences do nothing', async () => {
  const generator = createFakeGenerator({ delayMs: 30 });
  const { app, exits } = renderApp(generator);
  const frames = () => app.frames.join('');
  const waitFor = (check: () => boolean, what: string) => waitUntil(app, check, what, 5000);
  await waitFor(() => frames().includes('input digit to generate:'), 'the prompt');
  const keys = createEscapeFilter();
  app.stdin.write(keys.push('\x1b[1;5P\x1b[31m'));
  app.stdin.write(keys.push('3\n٣\nabc\n８\n'));
  await waitFor(() => generator.calls.length === 3 && /error: expected an integer.*"abc"/.test(frames()), 'three draws and one error');
  assert.deepEqual(generator.calls.map((c) => c.digit), [3, 3, 8]);
  app.stdin.write('-1\r');
  await waitFor(() => exits.length === 1, 'the exit');
  assert.deepEqual(exits, [0]);
  app.unmount();
});

test('reducer: lines entered during a draw run in order after it; a quit among them ends the session and drops the rest', async () => {
  const { initialState, reducer } = await import('../src/ui/reducer.js');
  const model = { backend: 'wasm' as const, checkpoint: { dir: '/c', epochsTrained: 1, trainSamples: 1, backendTrainedOn: 'wasm', hasFittedPrior: true } };
  const grid = { kind: 'text' as const, mode: 'ascii' as const, lines: ['@'] };
  type Action = Parameters<typeof reducer>[1];
  const line = (text: string): Action[] => [{ type: 'typed', text }, { type: 'submitted' }];
  let state = [{ type: 'loaded', model } as Action, ...line('1'), ...line('x'), ...line('2'), ...line('-4'), ...line('5')].reduce(reducer, initialState);
  assert.equal(state.phase, 'generating');
  assert.deepEqual(state.queued, ['x', '2', '-4', '5']);
  state = reducer(state, { type: 'ran', outputs: [{ kind: 'picture', grid }] });
  assert.equal(state.phase, 'generating', 'x is an error, then 2 starts drawing');
  assert.deepEqual(state.pending?.input, { kind: 'digit', digit: 2 });
  state = reducer(state, { type: 'ran', outputs: [{ kind: 'picture', grid }] });
  assert.equal(state.phase, 'exiting');
  assert.equal(state.exitCode, 0);
  const texts = state.history.flatMap((h) => (h.kind === 'input' || h.kind === 'value' || h.kind === 'error' ? [`${h.kind}:${h.text}`] : []));
  assert.deepEqual(texts.map((t) => t.replace(/ \(got.*/, '')), [
    'input:input digit to generate: 1',
    'input:input digit to generate: x',
    'error:expected an integer: 0-9 draws that digit, any other integer quits',
    'input:input digit to generate: 2',
    'input:input digit to generate: -4',
    'value:-4',
  ]);
});

test('Ink UI: a pasted megabyte is clipped on screen and answered at once; a megabyte of digits is refused like int() does', async () => {
  const generator = createFakeGenerator();
  const { app, exits } = renderApp(generator);
  // Before the clip a 100 KB line took 6 s to draw and 1 MB minutes; this is a hang detector, not a timing.
  const waitFor = (check: () => boolean, what: string) => waitUntil(app, check, what, 20_000);
  await waitFor(() => (app.lastFrame() ?? '').includes('input digit to generate:'), 'the prompt');
  app.stdin.write('x'.repeat(1_000_000));
  await waitFor(() => (app.lastFrame() ?? '').includes('(1,000,000 characters) …xxx'), 'the clipped live prompt');
  app.stdin.write('\r');
  await waitFor(() => app.frames.join('').includes('error: expected an integer: 0-9'), 'the error');
  assert.match(app.frames.join('').replaceAll('\n', ''), /input digit to generate: x{200}… \(1,000,000 characters\)/, 'the echo, word-wrapped by Ink');
  app.stdin.write(`${'9'.repeat(1_000_000)}\r`);
  await waitFor(() => app.frames.join('').includes('got 1,000,000 digits'), 'the refusal');
  assert.deepEqual(exits, []);
  app.stdin.write('3\r');
  await waitFor(() => generator.calls.length === 1, 'a draw after all that');
  app.unmount();
});

test('Ink UI: 50 reads of random bytes through the key filter neither crash nor quit the app; a digit still draws', async () => {
  const generator = createFakeGenerator();
  const { app, exits } = renderApp(generator);
  const waitFor = (check: () => boolean, what: string) => waitUntil(app, check, what, 5000);
  await waitFor(() => (app.lastFrame() ?? '').includes('input digit to generate:'), 'the prompt');
  const random = prng(SEED + 6);
  const keys = createEscapeFilter();
  for (let n = 0; n < 50; n++) {
    // No ASCII or other decimal digits (a line of them would quit), no Ctrl+C / Ctrl+D (they quit on purpose).
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)).filter((b) => b !== 3 && b !== 4 && (b < 0x30 || b > 0x39)));
    app.stdin.write(keys.push(bytes.toString('utf8').replace(/\p{Nd}/gu, '')));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  app.stdin.write(keys.push('\r3\r'));
  await waitFor(() => generator.calls.length === 1, 'the draw of 3');
  assert.deepEqual(exits, []);
  app.unmount();
});
