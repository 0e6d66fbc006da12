/**
 * The REPL's state machine, free of React so it is tested on its own. Phases:
 * loading -> (training -> loading ->) prompt <-> generating, and exiting / error at the end.
 */
import type { BackendName, BatchReport, CheckpointSummary, EpochReport, TrainOutcome } from '../engine/types.js';
import type { SessionInput } from '../explore/session.js';
import type { RenderedGrid } from '../render/terminal.js';
import { parseLine } from '../prompt/commands.js';
import { PROMPT, clipInput } from '../prompt/input.js';

export type Phase = 'loading' | 'training' | 'prompt' | 'generating' | 'error' | 'exiting';

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
