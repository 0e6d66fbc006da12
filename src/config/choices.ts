/**
 * The values a user can choose for the REPL's settings, each with its one validator. Flags (`--grid 4`),
 * saved settings (`config set grid 4`, a hand-edited file) and prompt commands (`:grid 4`) all check a
 * value here, so they accept the same values and say the same thing about the rest; each caller only
 * names the setting its own way (`--grid`, `grid`, `:grid`).
 */
import type { BackendChoice, SamplerName } from '../engine/types.js';
import type { RenderChoice } from '../render/terminal.js';

export const RENDER_CHOICES: readonly RenderChoice[] = ['auto', 'kitty', 'iterm', 'blocks', 'ascii'];
export const SAMPLERS: readonly SamplerName[] = ['fitted', 'prior'];
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
/** Largest N of an N x N grid: 100 digits per prompt. */
export const MAX_GRID = 10;

/** A value that passed its check, or what the check expected ("a number greater than 0"). */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly expected: string };

const pass = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = <T>(expected: string): Checked<T> => ({ ok: false, expected });

/** A whole number written plainly (digits only; a number from a settings file as it is). */
function wholeNumber(value: string | number): number {
  if (typeof value === 'number') return Number.isInteger(value) ? value : Number.NaN;
  return /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
}

export function checkSeed(value: string | number): Checked<number> {
  const n = wholeNumber(value);
  return Number.isSafeInteger(n) && n >= 0 ? pass(n) : fail('a whole number >= 0');
}

export function checkGrid(value: string | number): Checked<number> {
  const n = wholeNumber(value);
  return n >= 1 && n <= MAX_GRID ? pass(n) : fail(`an integer from 1 to ${MAX_GRID}`);
}

export function checkScale(value: string | number): Checked<number> {
  const n = typeof value === 'number' ? value : value.trim() === '' ? Number.NaN : Number(value);
  return Number.isFinite(n) && n > 0 ? pass(n) : fail('a number greater than 0, for example 0.8');
}

function checkChoice<T extends string>(choices: readonly T[], value: string | number): Checked<T> {
  const found = choices.find((c) => c === (typeof value === 'string' ? value.trim().toLowerCase() : value));
  const expected = choices.length === 2 ? choices.join(' or ') : `one of ${choices.join(', ')}`;
  return found === undefined ? fail(expected) : pass(found);
}

export const checkSampler = (value: string | number): Checked<SamplerName> => checkChoice(SAMPLERS, value);
export const checkRender = (value: string | number): Checked<RenderChoice> => checkChoice(RENDER_CHOICES, value);
export const checkBackend = (value: string | number): Checked<BackendChoice> => checkChoice(BACKEND_CHOICES, value);
