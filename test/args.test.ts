import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HELP, UsageError, parseArgs } from '../src/args.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function usageError(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError for ${argv.join(' ')}`);
    return error;
  }
  assert.fail(`expected ${argv.join(' ')} to be rejected`);
}

test('no flags: the REPL with nothing overridden', () => {
  assert.deepEqual(parseArgs([]), { kind: 'repl', flags: {} });
});

test('REPL flags, both --flag value and --flag=value', () => {
  assert.deepEqual(parseArgs(['--render', 'kitty', '--sampler=prior', '--scale', '0.8', '--grid', '4', '--seed', '7', '--checkpoint', 'ck', '--backend', 'wasm']), {
    kind: 'repl',
    flags: { render: 'kitty', sampler: 'prior', scale: 0.8, grid: 4, seed: 7, checkpoint: 'ck', backend: 'wasm' },
  });
});

test('--train takes the train flags; without --train they are an error', () => {
  assert.deepEqual(parseArgs(['--train', '--epochs', '2', '--limit', '512', '--lr', '0.001', '--resume']), {
    kind: 'repl',
    flags: { train: { resume: true, epochs: 2, limit: 512, learningRate: 0.001 } },
  });
  assert.match(usageError(['--epochs', '2']).message, /--epochs is a training flag/);
});

test('subcommands', () => {
  assert.deepEqual(parseArgs(['train', '--epochs', '1', '--batch-size', '64', '--gamma', '0', '--checkpoint', 'x', '--data-dir', 'd']), {
    kind: 'train',
    flags: { resume: false, epochs: 1, batchSize: 64, gamma: 0, checkpoint: 'x', dataDir: 'd' },
  });
  // --data is the spelling of --data-dir
  assert.deepEqual(parseArgs(['train', '--data', 'mine']), { kind: 'train', flags: { resume: false, dataDir: 'mine' } });
  assert.deepEqual(parseArgs(['train', '--threads', '1']), { kind: 'train', flags: { resume: false, threads: 1 } });
  assert.deepEqual(parseArgs(['--train', '--threads', '2']), { kind: 'repl', flags: { train: { resume: false, threads: 2 } } });
  assert.deepEqual(parseArgs(['sample', '3', '--out', 'a.png', '--count', '16']), { kind: 'sample', flags: { digit: 3, count: 16, pad: 2, out: 'a.png' } });
  assert.deepEqual(parseArgs(['sample', '--digit', '0']), { kind: 'sample', flags: { digit: 0, count: 9, pad: 2 } });
  assert.deepEqual(parseArgs(['eval', '--json']), { kind: 'eval', flags: { json: true } });
  assert.deepEqual(parseArgs(['config']), { kind: 'config', action: { kind: 'show' } });
  assert.deepEqual(parseArgs(['config', 'reset']), { kind: 'config', action: { kind: 'reset' } });
  assert.deepEqual(parseArgs(['config', 'set', 'grid', '4']), { kind: 'config', action: { kind: 'set', key: 'grid', value: '4' } });
  assert.deepEqual(parseArgs(['--help']), { kind: 'help' });
  assert.deepEqual(parseArgs(['-h']), { kind: 'help' });
  assert.deepEqual(parseArgs(['train', '--help']), { kind: 'help' });
  assert.deepEqual(parseArgs(['--version']), { kind: 'version' });
  assert.deepEqual(parseArgs(['-v']), { kind: 'version' });
});

test('bad values and unknown flags are one-line usage errors with a hint', () => {
  const cases: Array<[string[], RegExp]> = [
    [['train', '--epochs', '-3'], /--epochs must be a positive integer \(got -3\)/],
    [['train', '--epochs', '2.5'], /--epochs must be a positive integer/],
    [['train', '--epochs'], /--epochs needs a value/],
    [['train', '--threads', '0'], /--threads must be an integer from 1 to 64 \(got 0\)/],
    [['--threads', '2'], /--threads is a training flag/],
    [['sample', '3', '--count', '0'], /--count must be an integer from 1 to 400 \(got 0\)/],
    [['sample', '12'], /--digit must be an integer from 0 to 9 \(got 12\)/],
    [['sample'], /needs a digit/],
    [['--render', 'svg'], /--render must be one of auto, kitty, iterm, sixel, blocks, ascii \(got svg\)/],
    [['--scale', '0'], /--scale must be a number greater than 0/],
    [['--scale', 'abc'], /--scale must be a number greater than 0/],
    [['--grid', '11'], /--grid must be an integer from 1 to 10/],
    [['--bogus'], /unknown flag --bogus/],
    [['-x'], /unknown flag -x/],
    [['eval', '--count', '3'], /unknown flag --count for `cvae-repl eval`/],
    [['frobnicate'], /unknown command frobnicate/],
    [['--resume=yes', '--train'], /--resume takes no value/],
    [['config', 'delete'], /unknown config command/],
  ];
  for (const [argv, pattern] of cases) {
    const error = usageError(argv);
    assert.match(error.message, pattern, argv.join(' '));
    assert.ok(!error.message.includes('\n') && error.hint.length > 0);
  }
});

test('--help lists every flag and subcommand with defaults', () => {
  for (const flag of ['--render', '--sampler', '--scale', '--grid', '--seed', '--checkpoint', '--backend', '--train', '--epochs', '--batch-size', '--learning-rate', '--gamma', '--limit', '--resume', '--data-dir', '--threads', '--count', '--cols', '--pad', '--out', '--json', '--help', '--version']) {
    assert.ok(HELP.includes(flag), `help mentions ${flag}`);
  }
  for (const command of ['cvae-repl train', 'cvae-repl sample', 'cvae-repl eval', 'cvae-repl config', 'config reset']) assert.ok(HELP.includes(command), command);
  assert.match(HELP, /--epochs <n> .*\[30\]/);
  assert.match(HELP, /--batch-size <n> .*\[128\]/);
  assert.match(HELP, /--render <mode> .*\[auto\]/);
  assert.ok(HELP.split('\n').every((line) => line.length <= 80), 'help fits 80 columns');
});

test('the bin: --version, --help and a bad flag (exit code 2, no stack trace)', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.tsx', ...args], { cwd: root, encoding: 'utf8' });
  const version = cli(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const help = cli(['--help']);
  assert.equal(help.status, 0);
  assert.ok(help.stdout.startsWith('cvae-repl:'));
  const bad = cli(['train', '--epochs', '-3']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.deepEqual(bad.stderr.trimEnd().split('\n'), ['error: --epochs must be a positive integer (got -3)', 'run `cvae-repl --help` to see every flag']);
});
