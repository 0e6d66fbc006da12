/**
 * The REPL's state machine, free of React so it is tested on its own. Phases:
 * loading -> (training -> loading ->) prompt <-> generating, and exiting / error at the end.
 */
import type { BackendName, BatchReport, CheckpointSummary, EpochReport, TrainOutcome } from '../engine/types.js';
import type { SessionInput } from '../explore/session.js';
import type { RenderedGrid } from '../render/terminal.js';
import { parseLine } from './commands.js';

export type Phase = 'loading' | 'training' | 'prompt' | 'generating' | 'error' | 'exiting';

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

export interface ModelInfo {
  readonly backend: BackendName;
  readonly checkpoint: CheckpointSummary;
}

export type HistoryItem =
  | { readonly id: number; readonly kind: 'header'; readonly model: ModelInfo }
  | { readonly id: number; readonly kind: 'input'; readonly text: string }
  /** A picture: a digit's grid, or a command's (with a caption saying what it shows). */
  | { readonly id: number; readonly kind: 'grid'; readonly grid: RenderedGrid; readonly caption?: string }
  /** A command's answer (`:help`, `:grid 4`, `:save`). */
  | { readonly id: number; readonly kind: 'message'; readonly text: string }
  /** The loss curves after training, as text lines. */
  | { readonly id: number; readonly kind: 'chart'; readonly lines: readonly string[] }
  | { readonly id: number; readonly kind: 'epoch'; readonly report: EpochReport; readonly preview?: RenderedGrid }
  | { readonly id: number; readonly kind: 'value'; readonly text: string }
  | { readonly id: number; readonly kind: 'info'; readonly text: string }
  | { readonly id: number; readonly kind: 'error'; readonly text: string };

/** Distributes Omit over the union, so each history kind keeps its own fields. */
type NewHistoryItem = HistoryItem extends infer T ? (T extends HistoryItem ? Omit<T, 'id'> : never) : never;

export interface TrainingState {
  readonly epochs: number;
  readonly batchSize: number;
  readonly batch?: BatchReport;
  readonly status?: string;
  /** Ctrl+C was pressed: the trainer stops after the current batch. */
  readonly stopping: boolean;
}

export interface State {
  readonly phase: Phase;
  /** What is typed at the prompt so far. */
  readonly input: string;
  /** Finished output, printed once into the scrollback (<Static>), oldest first. */
  readonly history: readonly HistoryItem[];
  readonly nextId: number;
  readonly status?: string;
  readonly model?: ModelInfo;
  readonly training?: TrainingState;
  /** The draw or command in flight; `request` counts them. */
  readonly pending?: { readonly input: SessionInput; readonly request: number };
  readonly requests: number;
  /** Lines submitted while a grid was being drawn (a paste of several lines): each runs in turn. */
  readonly queued?: readonly string[];
  readonly exitCode?: number;
}

export type Action =
  | { type: 'status'; message: string }
  | { type: 'trainingStarted'; epochs: number; batchSize: number }
  | { type: 'batch'; report: BatchReport }
  | { type: 'epoch'; report: EpochReport; preview?: RenderedGrid }
  | { type: 'stopRequested' }
  | { type: 'trainingFinished'; outcome: TrainOutcome; message: string; chart?: readonly string[] }
  | { type: 'loaded'; model: ModelInfo }
  | { type: 'failed'; message: string }
  | { type: 'typed'; text: string }
  | { type: 'erased' }
  | { type: 'submitted' }
  /** What the pending input produced, rendered for the terminal, in order. */
  | { type: 'ran'; outputs: readonly RunOutput[] }
  | { type: 'generateFailed'; message: string }
  | { type: 'quit' }
  /** Everything with an id below `upTo` is on the screen (the app dispatches it after printing). */
  | { type: 'printed'; upTo: number };

/** One output of a draw or command, ready for the scrollback. */
export type RunOutput = { kind: 'picture'; grid: RenderedGrid; caption?: string } | { kind: 'message'; text: string } | { kind: 'error'; text: string };

export const initialState: State = { phase: 'loading', input: '', history: [], nextId: 0, requests: 0 };

const PRINTED: RenderedGrid = { kind: 'text', mode: 'blocks', lines: [] };

/**
 * Drops the pixels of a grid that is already in the scrollback. <Static> prints each item once and
 * only looks at new items after that; a REPL left open for hours would otherwise hold every grid it drew.
 */
function forgetPrinted(item: HistoryItem): HistoryItem {
  if (item.kind === 'grid' && item.grid !== PRINTED) return { ...item, grid: PRINTED };
  if (item.kind === 'epoch' && item.preview !== undefined) return { id: item.id, kind: 'epoch', report: { ...item.report, preview: undefined } };
  return item;
}

function append(state: State, ...items: NewHistoryItem[]): Pick<State, 'history' | 'nextId'> {
  let nextId = state.nextId;
  const added = items.map((item) => ({ ...item, id: nextId++ }) as HistoryItem);
  return { history: [...state.history, ...added], nextId };
}

/** Keeps what can be typed at the prompt: printable characters, no escapes, control bytes (C0, DEL, C1) or bidi overrides. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

/** Runs one line typed at the prompt: a draw, the quit value, or an error. */
function submitLine(state: State, line: string): State {
  // Ink lays out every character it shows: a pasted megabyte took minutes to draw, so it is clipped.
  const echo: NewHistoryItem = { kind: 'input', text: `${PROMPT} ${clipInput(line, 'start')}` };
  const parsed = parseLine(line);
  switch (parsed.kind) {
    case 'digit':
    case 'command': {
      const input: SessionInput = parsed.kind === 'digit' ? { kind: 'digit', digit: parsed.digit } : { kind: 'command', command: parsed.command };
      return { ...state, phase: 'generating', pending: { input, request: state.requests }, requests: state.requests + 1, ...append(state, echo) };
    }
    case 'quit':
      return { ...state, phase: 'exiting', exitCode: 0, ...append(state, echo, { kind: 'value', text: parsed.value }) };
    case 'invalid':
      return { ...state, ...append(state, echo, { kind: 'error', text: parsed.message }) };
  }
}

/** Back at the prompt: runs queued lines until one starts a draw or quits. */
function nextQueued(state: State): State {
  let current = state;
  while (current.phase === 'prompt' && (current.queued?.length ?? 0) > 0) {
    const [line, ...rest] = current.queued!;
    current = submitLine({ ...current, queued: rest }, line!);
  }
  return current;
}

export function reducer(state: State, action: Action): State {
  switch (action.type) {
    case 'status':
      return state.training === undefined ? { ...state, status: action.message } : { ...state, training: { ...state.training, status: action.message } };
    case 'trainingStarted':
      return { ...state, phase: 'training', training: { epochs: action.epochs, batchSize: action.batchSize, stopping: false } };
    case 'batch':
      return state.training === undefined ? state : { ...state, training: { ...state.training, batch: action.report } };
    case 'epoch': {
      const item: NewHistoryItem = action.preview === undefined ? { kind: 'epoch', report: action.report } : { kind: 'epoch', report: action.report, preview: action.preview };
      return { ...state, ...append(state, item) };
    }
    case 'stopRequested':
      return state.training === undefined ? state : { ...state, training: { ...state.training, stopping: true } };
    case 'trainingFinished': {
      const { training: _done, ...rest } = state;
      const chart: NewHistoryItem[] = action.chart === undefined || action.chart.length === 0 ? [] : [{ kind: 'chart', lines: action.chart }];
      return { ...rest, phase: 'loading', ...append(state, { kind: 'info', text: action.message }, ...chart) };
    }
    case 'loaded':
      return { ...state, phase: 'prompt', model: action.model, status: undefined, ...append(state, { kind: 'header', model: action.model }) };
    case 'failed':
      return { ...state, phase: 'error', exitCode: 1, ...append(state, { kind: 'error', text: action.message }) };
    case 'typed':
      if (state.phase !== 'prompt' && state.phase !== 'generating') return state;
      return { ...state, input: state.input + printable(action.text) };
    case 'erased':
      return { ...state, input: [...state.input].slice(0, -1).join('') };
    case 'submitted':
      // A line entered while a grid is drawn (the next line of a paste) waits its turn instead of being
      // lost; a bare Enter pressed while waiting does nothing.
      if (state.phase === 'generating') return state.input === '' ? state : { ...state, input: '', queued: [...(state.queued ?? []), state.input] };
      if (state.phase !== 'prompt') return state;
      return submitLine({ ...state, input: '' }, state.input);
    case 'ran': {
      const { pending: _done, ...rest } = state;
      const items = action.outputs.map((output): NewHistoryItem => {
        if (output.kind === 'picture') return output.caption === undefined ? { kind: 'grid', grid: output.grid } : { kind: 'grid', grid: output.grid, caption: output.caption };
        return output.kind === 'message' ? { kind: 'message', text: output.text } : { kind: 'error', text: output.text };
      });
      return nextQueued({ ...rest, phase: 'prompt', ...append(state, ...items) });
    }
    case 'generateFailed': {
      const { pending: _done, ...rest } = state;
      return nextQueued({ ...rest, phase: 'prompt', ...append(state, { kind: 'error', text: action.message }) });
    }
    case 'quit':
      return { ...state, phase: 'exiting', exitCode: state.exitCode ?? 0 };
    case 'printed': {
      const history = state.history.map((item) => (item.id < action.upTo ? forgetPrinted(item) : item));
      return history.every((item, i) => item === state.history[i]) ? state : { ...state, history };
    }
  }
}
