/**
 * What a line typed at the prompt means under the notebook's rules (`int(label)`, then 0-9 draws and
 * anything else quits), and how typed text is shown back safely. Pure: the Ink UI and line mode share it.
 */

/** The notebook's prompt, `input("input digit to generate: \n")`. */
export const PROMPT = 'input digit to generate:';

/** What a line typed at the prompt means, with the notebook's rules (`int(label)`, then 0-9 or quit). */
export type PromptInput =
  | { kind: 'digit'; digit: number }
  | { kind: 'quit'; value: string }
  | { kind: 'invalid'; message: string };

/**
 * Makes typed text safe to show on one terminal line: control characters (C0, DEL, C1), invisible
 * zero-width characters and bidi overrides become visible escapes like `\x1b` or `\u200b`, so a pasted
 * escape sequence cannot restyle or reorder the screen, and `got "3"` never hides why 3 was refused.
 */
export function displayable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/** Python's default limit for int() on a string (sys.get_int_max_str_digits()). */
export const MAX_INT_DIGITS = 4300;

/** Most characters of a typed line shown on screen; a longer paste is shown clipped, with its length. */
export const MAX_SHOWN_INPUT = 200;

/** `text` clipped for display: its start (an echo) or its end (the live prompt, where typing happens). */
export function clipInput(text: string, keep: 'start' | 'end'): string {
  if (text.length <= MAX_SHOWN_INPUT) return text;
  const count = `(${[...text].length.toLocaleString('en-US')} characters)`;
  return keep === 'start' ? `${text.slice(0, MAX_SHOWN_INPUT)}… ${count}` : `${count} …${text.slice(-MAX_SHOWN_INPUT)}`;
}

/** The value of a decimal digit in any script (`3`, `３`, `٣`, `𝟑`): Unicode encodes each script's 0-9 as a run of ten. */
function digitValue(char: string): number {
  let start = char.codePointAt(0)!;
  while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (char.codePointAt(0)! - start) % 10;
}

/**
 * Reads one prompt line like Python's `int()`: surrounding whitespace, a sign, `_` between digits, and
 * decimal digits of any script (`３` from a full-width IME, Arabic-Indic `٣`) are fine, as they are
 * for the notebook's `int(label)`; `3.5`, `1e3`, `abc` are not.
 */
export function parsePromptInput(line: string): PromptInput {
  // Python also strips U+0085 (NEL), which JavaScript's trim keeps.
  const text = line.replace(/^[\s\u0085]+|[\s\u0085]+$/g, '');
  if (!/^[+-]?\p{Nd}+(_\p{Nd}+)*$/u.test(text)) {
    const head = [...text.slice(0, 42)];
    const shown = text === '' ? 'an empty line' : `"${displayable(head.length > 20 ? `${head.slice(0, 20).join('')}…` : text)}"`;
    return { kind: 'invalid', message: `expected an integer: 0-9 draws that digit, any other integer quits (got ${shown})` };
  }
  // Python's int() refuses more than 4300 digits (a ValueError in the notebook); so do we, which also
  // keeps a pasted megabyte of digits from being printed back.
  const digits = text.replace(/[^\p{Nd}]/gu, '').length;
  if (digits > MAX_INT_DIGITS) {
    return { kind: 'invalid', message: `expected an integer of at most ${MAX_INT_DIGITS} digits, as Python's int() (got ${digits.toLocaleString('en-US')} digits)` };
  }
  const ascii = text.replace(/\p{Nd}/gu, (c) => String(digitValue(c))).replaceAll('_', '');
  // BigInt prints the value as Python's print(int(...)) would: no sign for 0, no leading zeros.
  const value = BigInt(ascii);
  if (value >= 0n && value <= 9n) return { kind: 'digit', digit: Number(value) };
  return { kind: 'quit', value: value.toString() };
}
