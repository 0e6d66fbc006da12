/**
 * Finished output of the Ink UI as the bytes that go into the terminal's scrollback. The app writes
 * each item once, with Ink's `write` (above the live frame), and drops it from its state: a REPL left
 * open for hours keeps nothing of what it printed. Ink's <Static> is not used for this because Ink
 * keeps a copy of everything <Static> ever printed (`fullStaticOutput`, for redrawing after the
 * frame outgrows the screen), which grew by every grid drawn (issue 13).
 */
import type { BackendChoice, SamplerName } from '../engine/types.js';
import { gridToBytes, type RenderedGrid } from '../render/terminal.js';
import { PROMPT_HINT, backendHint, formatEpoch, formatHeader } from '../present/format.js';
import type { HistoryItem } from './reducer.js';

export interface ScrollbackContext {
  version: string;
  backendChoice: BackendChoice;
  sampler: SamplerName;
  /** `render kitty (auto)` for the header, and the hint for a forced mode the terminal may lack. */
  render?: string;
  renderHint?: string;
  /** SGR styles (bold, dim, red); off in ascii mode, which is for NO_COLOR and TERM=dumb. */
  color: boolean;
}

const style = (on: boolean, open: string, close: string) => (text: string): string => (on ? `${open}${text}${close}` : text);

/** The bytes of one finished item, ending with a newline. Grids are written as they were rendered. */
export function historyText(item: HistoryItem, context: ScrollbackContext): string {
  const bold = style(context.color, '\x1b[1m', '\x1b[22m');
  const dim = style(context.color, '\x1b[2m', '\x1b[22m');
  const red = style(context.color, '\x1b[31m', '\x1b[39m');
  const grid = (rendered: RenderedGrid): string =>
    rendered.kind === 'text' ? `${rendered.lines.join('\n')}\n${rendered.note === undefined ? '' : `${dim(rendered.note)}\n`}` : gridToBytes(rendered);
  switch (item.kind) {
    case 'header': {
      const [first, ...rest] = formatHeader(context.version, item.model.backend, item.model.checkpoint, context.sampler, context.render);
      const hints = [backendHint(context.backendChoice, item.model.backend), context.renderHint].filter((hint) => hint !== undefined);
      return [bold(first ?? ''), ...rest, ...hints.map(dim), dim(PROMPT_HINT)].map((line) => `${line}\n`).join('');
    }
    case 'grid':
      return `${item.caption === undefined ? '' : `${dim(item.caption)}\n`}${grid(item.grid)}`;
    case 'epoch':
      return `${formatEpoch(item.report)}\n${item.preview === undefined ? '' : grid(item.preview)}`;
    case 'chart':
      return `${item.lines.join('\n')}\n`;
    case 'info':
      return `${dim(item.text)}\n`;
    case 'error':
      return `${red(`error: ${item.text}`)}\n`;
    case 'input':
    case 'message':
    case 'value':
      return `${item.text}\n`;
  }
}
