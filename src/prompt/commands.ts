/**
 * The prompt's `:commands`, parsed without side effects so the Ink UI and line mode read a line the
 * same way. A line that does not start with `:` keeps the notebook's meaning (parsePromptInput).
 */
import { checkGrid, checkSampler, checkScale, checkSeed, MAX_GRID, type Checked } from '../config/choices.js';
import type { SamplerName } from '../engine/types.js';
import { displayable, parsePromptInput, type PromptInput } from './input.js';

/** Rows of `:style` when none are given. */
export const DEFAULT_STYLE_ROWS = 4;
/** Most rows `:style` draws (ten digits each). */
export const MAX_STYLE_ROWS = 10;

/** A setting the prompt can change; `value` undefined shows it, `null` clears it (only `seed`). */
export type SettingCommand =
  | { kind: 'setting'; key: 'seed'; value?: number | null }
  | { kind: 'setting'; key: 'scale'; value?: number }
  | { kind: 'setting'; key: 'sampler'; value?: SamplerName }
  | { kind: 'setting'; key: 'grid'; value?: number };

/** What a `:command` line asks for. */
export type PromptCommand =
  | { kind: 'help' }
  | { kind: 'style'; rows: number }
  | { kind: 'morph'; from: number; to: number }
  | { kind: 'walk'; digit?: number }
  | { kind: 'recon' }
  | { kind: 'save'; file?: string }
  | SettingCommand;

/** One prompt line: the notebook's integer rules, or a command. */
export type LineInput = PromptInput | { kind: 'command'; command: PromptCommand };

export type CommandName = 'help' | 'style' | 'morph' | 'walk' | 'recon' | 'save' | 'seed' | 'scale' | 'sampler' | 'grid';

/** `:help` text, one command per line. */
export const COMMAND_HELP: ReadonlyArray<readonly [string, string]> = [
  ['0-9', 'draw an N x N grid of that digit (any other integer quits)'],
  [':style [ROWS]', `one handwriting (latent z) per row, decoded as each digit 0-9 (default ${DEFAULT_STYLE_ROWS} rows)`],
  [':morph A B', 'one handwriting, the label blended from digit A to digit B in 10 steps'],
  [':walk [D]', 'one digit (the last one, or D), the handwriting changing in 10 steps'],
  [':recon', '10 random MNIST test digits above their reconstructions'],
  [':save [FILE.png]', 'save the last picture as a PNG (default: cvae-<what>-<time>.png here)'],
  [':seed N|off', 'reproducible draws from seed N, or fresh ones (saved in the settings)'],
  [':scale T', 'spread of the latent draw (of the handwriting for :style, :morph, :walk), > 0 (saved)'],
  [':sampler NAME', 'fitted (per-digit latent density) or prior (N(0, I)) (saved)'],
  [':grid N', `N x N samples per digit, 1-${MAX_GRID} (saved)`],
  [':help', 'this list'],
];

type Parsed = { kind: 'command'; command: PromptCommand } | { kind: 'invalid'; message: string };

const invalid = (message: string): Parsed => ({ kind: 'invalid', message });
const ok = (command: PromptCommand): Parsed => ({ kind: 'command', command });

/** What a setting's validator accepts, in words (an empty value never passes). */
function expectedOf(check: (value: string) => Checked<unknown>): string {
  const result = check('');
  return result.ok ? '' : result.expected;
}

/**
 * `:KEY` shows a setting, `:KEY VALUE` sets it through its validator (config/choices.ts); anything else is
 * refused saying what the validator takes (`also` names what the command accepts besides).
 */
function setting<K extends SettingCommand['key']>(key: K, check: (value: string) => Checked<NonNullable<Extract<SettingCommand, { key: K }>['value']>>, args: readonly string[], rest: string, also = ''): Parsed {
  if (args.length === 0) return ok({ kind: 'setting', key } as SettingCommand);
  const checked = check(args[0]!);
  if (args.length > 1 || !checked.ok) return invalid(`:${key} takes ${expectedOf(check)}${also} (got "${displayable(rest)}")`);
  return ok({ kind: 'setting', key, value: checked.value } as SettingCommand);
}

/** A digit 0-9 written plainly (commands take ASCII digits only). */
function parseDigit(text: string | undefined): number | undefined {
  return text !== undefined && /^[0-9]$/.test(text) ? Number(text) : undefined;
}

function noArguments(name: CommandName, args: readonly string[], command: PromptCommand): Parsed {
  return args.length === 0 ? ok(command) : invalid(`:${name} takes no arguments (got "${displayable(args.join(' '))}")`);
}

/** Parses a line that starts with `:`. Pure; every refusal is one line saying what is expected. */
export function parseCommand(line: string): Parsed {
  const body = line.trim().slice(1);
  const name = (body.split(/\s+/, 1)[0] ?? '').toLowerCase();
  const rest = body.slice(name.length).trim();
  const args = rest === '' ? [] : rest.split(/\s+/);
  switch (name) {
    case 'help':
    case 'h':
    case '?':
      return noArguments('help', args, { kind: 'help' });
    case 'style': {
      if (args.length === 0) return ok({ kind: 'style', rows: DEFAULT_STYLE_ROWS });
      const rows = /^\d+$/.test(args[0]!) ? Number(args[0]) : Number.NaN;
      if (args.length > 1 || !Number.isInteger(rows) || rows < 1 || rows > MAX_STYLE_ROWS) return invalid(`:style takes a number of rows from 1 to ${MAX_STYLE_ROWS} (got "${displayable(rest)}")`);
      return ok({ kind: 'style', rows });
    }
    case 'morph': {
      const from = parseDigit(args[0]);
      const to = parseDigit(args[1]);
      if (args.length !== 2 || from === undefined || to === undefined) return invalid(`:morph needs two digits 0-9, for example :morph 3 8 (got ${args.length === 0 ? 'none' : `"${displayable(rest)}"`})`);
      return ok({ kind: 'morph', from, to });
    }
    case 'walk': {
      if (args.length === 0) return ok({ kind: 'walk' });
      const digit = parseDigit(args[0]);
      if (args.length > 1 || digit === undefined) return invalid(`:walk takes at most one digit 0-9 (got "${displayable(rest)}")`);
      return ok({ kind: 'walk', digit });
    }
    case 'recon':
      return noArguments('recon', args, { kind: 'recon' });
    case 'save':
      // The rest of the line is the file name, spaces included.
      return ok(rest === '' ? { kind: 'save' } : { kind: 'save', file: rest });
    case 'seed': {
      const word = args[0]?.toLowerCase();
      if (args.length === 1 && (word === 'off' || word === 'none')) return ok({ kind: 'setting', key: 'seed', value: null });
      return setting('seed', checkSeed, args, rest, ', or off for fresh draws');
    }
    case 'scale':
      return setting('scale', checkScale, args, rest);
    case 'sampler':
      return setting('sampler', checkSampler, args, rest);
    case 'grid':
      return setting('grid', checkGrid, args, rest);
    default: {
      const shown = name === '' ? ':' : `:${displayable(name.length > 20 ? `${name.slice(0, 20)}…` : name)}`;
      return invalid(`unknown command ${shown}; type :help for the commands`);
    }
  }
}

/** Reads one prompt line: `:command`, or the notebook's integer rules. */
export function parseLine(line: string): LineInput {
  if (line.trim().startsWith(':')) return parseCommand(line);
  return parsePromptInput(line);
}
