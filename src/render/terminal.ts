/**
 * Turns grids of digits into something a terminal shows: kitty graphics, iTerm2 inline images,
 * 24-bit half-blocks or plain ASCII.
 *
 * terminal-image is used where it is right: its terminal detection (supports-terminal-graphics,
 * the module terminal-image itself asks) decides kitty / iTerm2 for `--render auto`. Its drawing
 * is not used, each for a measured reason:
 * - kitty: it writes the escapes straight to process.stdout and returns ''. Inside Ink the only
 *   safe way to print above the live frame is Ink's `write(string)` (clear frame, write, redraw).
 *   Measured in tmux, even from a layout effect right after <Static> printed: a direct write left
 *   a stale copy of the prompt above the output and Ink's next redraw overwrote its last row.
 * - iTerm2: it asks term-img, whose own check calls iterm2-version, which returns nothing outside
 *   macOS, so from Linux (ssh from iTerm2, VS Code) it falls back to half-blocks; and it cannot be
 *   told which protocol to use, so `--render kitty|iterm` could not be honoured.
 * - half-blocks: colours go through chalk's guess from process.stdout and TERM: 16 colours for
 *   TERM=xterm even with FORCE_COLOR=3, 256 under tmux, none when piped; it rescales with Jimp to
 *   process.stdout.columns, not the width it is given (88 px came out 44 wide when piped). Where
 *   chalk does pick truecolor and the grid fits, its cells are identical to ours (0 of 3,872
 *   differ, measured in a 200x60 tmux pane with COLORTERM=truecolor), but it writes 6.8x the bytes
 *   (167 KB vs 25 KB for a 3x3 grid: a reset after every cell), takes 183 ms vs 6 ms, and
 *   importing it loads Jimp (1.1-1.6 s). No gain on screen, so it is not used there either.
 * So every mode returns bytes computed the same way everywhere, written outside Ink's live frame.
 */
import { createSupportsTerminalGraphics, type TerminalGraphicsSupport } from 'supports-terminal-graphics';
import type { GrayImage } from '../engine/types.js';
import { encodePng, tileGrid, upscale } from './grid.js';

/** How a grid is drawn. */
export type RenderMode = 'kitty' | 'iterm' | 'blocks' | 'ascii';
/** `auto` detects the terminal. */
export type RenderChoice = RenderMode | 'auto';

export interface TerminalInfo {
  env: Readonly<Record<string, string | undefined>>;
  /** Is the output a terminal? Graphics protocols are only sent to one. */
  isTTY: boolean;
}

/**
 * terminal-image's detection for an environment. supports-terminal-graphics reads process.env, so
 * the environment is lent to it for this one synchronous call (tests and callers pass their own).
 */
function graphicsSupport(env: TerminalInfo['env'], isTTY: boolean): TerminalGraphicsSupport {
  const own = process.env;
  process.env = env as NodeJS.ProcessEnv;
  try {
    return createSupportsTerminalGraphics({ isTTY } as NodeJS.WriteStream);
  } finally {
    process.env = own;
  }
}

/** Picks the richest mode the terminal shows, from its environment (no queries: they would race with Ink's input). */
export function detectRenderMode({ env, isTTY }: TerminalInfo): RenderMode {
  const term = (env.TERM ?? '').toLowerCase();
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 'ascii';
  if (term === 'dumb') return 'ascii';
  if (!isTTY) return 'blocks';
  // tmux and screen swallow graphics escapes unless passthrough is configured; the outer
  // terminal's variables (KITTY_WINDOW_ID, LC_TERMINAL) leak into them, and
  // supports-terminal-graphics trusts those, so this check comes first.
  if (env.TMUX !== undefined || env.STY !== undefined || term.startsWith('screen') || term.startsWith('tmux')) return 'blocks';
  const support = graphicsSupport(env, isTTY);
  // iTerm2 3.6+ also claims kitty graphics, but drops a=T images sent without an id (reported by
  // undercut-f1 #114 and iris.c #16): its own protocol is the reliable one there.
  const iterm2 = (env.TERM_PROGRAM ?? '').toLowerCase() === 'iterm.app' || (env.LC_TERMINAL ?? '').toLowerCase() === 'iterm2';
  if (iterm2 && support.iterm2) return 'iterm';
  // Elsewhere kitty first, as terminal-image does: WezTerm and Konsole speak both.
  if (support.kitty) return 'kitty';
  if (support.iterm2) return 'iterm';
  return 'blocks';
}

/** Resolves `auto`; an explicit mode is honoured as given. */
export function resolveRenderMode(choice: RenderChoice, info: TerminalInfo): RenderMode {
  return choice === 'auto' ? detectRenderMode(info) : choice;
}

export interface GridRenderOptions {
  mode: RenderMode;
  /** Terminal width in columns; the grid is fitted to it. */
  columns: number;
  /** Tiles per row; default ceil(sqrt(n)). */
  cols?: number;
  /** Gap between tiles, in source pixels. Default 2. */
  gap?: number;
  /** Gray level of the gap in [0, 1]; default 0.3 (0 in ascii, where it would print as dashes), so tiles on MNIST's black background stay apart. */
  gapShade?: number;
}

/** A rendered grid: text lines for Ink's <Static>, or a protocol payload written outside Ink's frame. */
export type RenderedGrid =
  | { kind: 'text'; mode: 'blocks' | 'ascii'; lines: string[]; note?: string }
  | { kind: 'payload'; mode: 'kitty' | 'iterm'; data: string; png: { width: number; height: number }; cells: { columns: number; rows: number } };

/** Pixels of a 28x28 tile per terminal column in image modes: the image is sent large, the terminal scales it to the cells. */
const IMAGE_UPSCALE = 5;
/** Widest a square image grid is shown, in columns, so a 3x3 grid stays about the size of a notebook cell's figure. */
const MAX_IMAGE_COLUMNS = 60;
/** Terminal cells are about twice as tall as wide. */
const CELL_ASPECT = 2;

/** Draws `tiles` as one grid for the given mode, fitted to `columns`. */
export function renderGrid(tiles: readonly GrayImage[], options: GridRenderOptions): RenderedGrid {
  const grid = tileGrid(tiles, { cols: options.cols, pad: options.gap ?? 2, background: options.gapShade ?? (options.mode === 'ascii' ? 0 : 0.3) });
  return renderImage(grid, options.mode, options.columns);
}

/** Draws one grayscale image in the given mode, fitted to `columns`. */
export function renderImage(image: GrayImage, mode: RenderMode, columns: number): RenderedGrid {
  const width = Math.max(1, Math.floor(columns));
  switch (mode) {
    case 'kitty':
    case 'iterm': {
      const big = upscale(image, IMAGE_UPSCALE);
      const png = encodePng(big);
      // Leave one column free: a line that fills the terminal exactly makes some terminals wrap.
      // A wide picture (a strip of ten digits) gets the width its aspect asks for, so each digit
      // stays as tall as in a square grid.
      const aspect = Math.max(1, image.width / image.height);
      const cellColumns = Math.max(1, Math.min(width - 1, Math.round(MAX_IMAGE_COLUMNS * Math.min(aspect, 4)), image.width));
      const cellRows = Math.max(1, Math.round((cellColumns * image.height) / image.width / CELL_ASPECT));
      const data = mode === 'kitty' ? kittyEscape(png, cellColumns, cellRows) : itermEscape(png, cellColumns, cellRows);
      return { kind: 'payload', mode, data, png: { width: big.width, height: big.height }, cells: { columns: cellColumns, rows: cellRows } };
    }
    case 'blocks':
    case 'ascii': {
      // One pixel per column at full size; when the terminal is narrower, shrink by an integer factor.
      const shrink = Math.ceil(image.width / width);
      const shown = shrink > 1 ? downscale(image, shrink) : image;
      const lines = mode === 'blocks' ? halfBlockLines(shown) : asciiLines(shown);
      const note = shrink > 1 ? `(shown at 1/${shrink} size; ${image.width} columns show it in full)` : undefined;
      return note === undefined ? { kind: 'text', mode, lines } : { kind: 'text', mode, lines, note };
    }
  }
}

/** Kitty graphics protocol: transmit-and-display a PNG (f=100), base64 in chunks of at most 4096 bytes. */
export function kittyEscape(png: Buffer, columns: number, rows: number): string {
  const b64 = png.toString('base64');
  let out = '';
  for (let at = 0; at < b64.length; at += 4096) {
    const chunk = b64.slice(at, at + 4096);
    const more = at + 4096 < b64.length ? 1 : 0;
    // q=2 keeps the terminal from answering (its reply would land in our stdin as keystrokes).
    const control = at === 0 ? `a=T,f=100,q=2,c=${columns},r=${rows},m=${more}` : `m=${more}`;
    out += `\x1b_G${control};${chunk}\x1b\\`;
  }
  return out;
}

/** iTerm2 inline image (OSC 1337), sized in cells. */
export function itermEscape(png: Buffer, columns: number, rows: number): string {
  return `\x1b]1337;File=inline=1;size=${png.length};width=${columns};height=${rows};preserveAspectRatio=1:${png.toString('base64')}\x07`;
}

/** Box-filter shrink by an integer factor (used only when the terminal is too narrow for one pixel per column). */
function downscale(image: GrayImage, factor: number): GrayImage {
  const width = Math.max(1, Math.floor(image.width / factor));
  const height = Math.max(1, Math.floor(image.height / factor));
  const pixels = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let dy = 0; dy < factor; dy++) for (let dx = 0; dx < factor; dx++) sum += image.pixels[(y * factor + dy) * image.width + x * factor + dx] ?? 0;
      pixels[y * width + x] = sum / (factor * factor);
    }
  }
  return { width, height, pixels };
}

const level = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

/** 24-bit half-blocks: each cell is '▀' with the upper pixel as foreground and the lower one as background. */
export function halfBlockLines(image: GrayImage): string[] {
  const lines: string[] = [];
  for (let y = 0; y < image.height; y += 2) {
    let line = '';
    let lastFg = -1;
    let lastBg = -1;
    for (let x = 0; x < image.width; x++) {
      const top = level(image.pixels[y * image.width + x]!);
      const bottom = y + 1 < image.height ? level(image.pixels[(y + 1) * image.width + x]!) : 0;
      // Only emit what changed: a row of a 3x3 grid is mostly background.
      if (top !== lastFg) line += `\x1b[38;2;${top};${top};${top}m`;
      if (bottom !== lastBg) line += `\x1b[48;2;${bottom};${bottom};${bottom}m`;
      lastFg = top;
      lastBg = bottom;
      line += '▀';
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines;
}

const ASCII_RAMP = ' .:-=+*#%@';

/** Plain text: one character per pixel column, two pixel rows per line (cells are about twice as tall as wide). */
export function asciiLines(image: GrayImage): string[] {
  const lines: string[] = [];
  for (let y = 0; y < image.height; y += 2) {
    let line = '';
    for (let x = 0; x < image.width; x++) {
      const top = image.pixels[y * image.width + x]!;
      const bottom = y + 1 < image.height ? image.pixels[(y + 1) * image.width + x]! : top;
      const v = Math.min(1, Math.max(0, (top + bottom) / 2));
      line += ASCII_RAMP[Math.min(ASCII_RAMP.length - 1, Math.floor(v * ASCII_RAMP.length))];
    }
    lines.push(line.trimEnd());
  }
  return lines;
}

/** The bytes to write for a rendered grid, ending on a fresh line. */
export function gridToBytes(grid: RenderedGrid): string {
  if (grid.kind === 'payload') return `${grid.data}\n`;
  return `${grid.lines.join('\n')}\n${grid.note === undefined ? '' : `${grid.note}\n`}`;
}
