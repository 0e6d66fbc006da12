/**
 * Turns grids of digits into something a terminal shows: kitty graphics, iTerm2 inline images,
 * sixel, 24-bit half-blocks or plain ASCII.
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
 * Re-checked against terminal-image 5.0.1 (issue 15): its kitty path still writes the escapes to
 * process.stdout itself and returns '', and its half-blocks still go through chalk and Jimp, so the
 * reasons above stand. It draws no sixel, so sixel is encoded with the `sixel` package
 * (node-sixel), not by hand.
 */
import { createSupportsTerminalGraphics, type TerminalGraphicsSupport } from 'supports-terminal-graphics';
import type { GrayImage } from '../engine/types.js';
import { FINALIZER, introducer, sixelEncode } from 'sixel';
import { encodePng, tileGrid, upscale } from './grid.js';

/** How a grid is drawn. */
export type RenderMode = 'kitty' | 'iterm' | 'sixel' | 'blocks' | 'ascii';
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

/** tmux and screen swallow graphics escapes unless passthrough is configured. */
function insideMultiplexer(env: TerminalInfo['env']): boolean {
  const term = (env.TERM ?? '').toLowerCase();
  return env.TMUX !== undefined || env.STY !== undefined || term.startsWith('screen') || term.startsWith('tmux');
}

/**
 * Does the environment say the terminal shows sixel? supports-terminal-graphics' rules (WezTerm,
 * VS Code 1.80+, Konsole 22.04+, mintty, Rio, mlterm), plus foot (TERM=foot, foot-extra) and
 * Windows Terminal (WT_SESSION; sixel since 1.22). xterm is not among them: it shows sixel only when
 * started as a VT340 (`xterm -ti vt340`), which its environment does not show, so there it is
 * `--render sixel` (or `config set render sixel`).
 */
function saysSixel(env: TerminalInfo['env'], support: TerminalGraphicsSupport): boolean {
  const term = (env.TERM ?? '').toLowerCase();
  return support.sixel || term === 'foot' || term.startsWith('foot-') || (env.WT_SESSION !== undefined && env.WT_SESSION !== '');
}

/** Picks the richest mode the terminal shows, from its environment (no queries: they would race with Ink's input). */
export function detectRenderMode({ env, isTTY }: TerminalInfo): RenderMode {
  const term = (env.TERM ?? '').toLowerCase();
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 'ascii';
  if (term === 'dumb') return 'ascii';
  if (!isTTY) return 'blocks';
  // The outer terminal's variables (KITTY_WINDOW_ID, LC_TERMINAL) leak into tmux and screen, and
  // supports-terminal-graphics trusts those, so this check comes first.
  if (insideMultiplexer(env)) return 'blocks';
  const support = graphicsSupport(env, isTTY);
  // iTerm2 3.6+ also claims kitty graphics, but drops a=T images sent without an id (reported by
  // undercut-f1 #114 and iris.c #16): its own protocol is the reliable one there.
  const iterm2 = (env.TERM_PROGRAM ?? '').toLowerCase() === 'iterm.app' || (env.LC_TERMINAL ?? '').toLowerCase() === 'iterm2';
  if (iterm2 && support.iterm2) return 'iterm';
  // Elsewhere kitty first, as terminal-image does: WezTerm and Konsole speak all three.
  if (support.kitty) return 'kitty';
  if (support.iterm2) return 'iterm';
  // Sixel last among the protocols: 16 gray levels here, and the terminal picks the size in cells.
  if (saysSixel(env, support)) return 'sixel';
  return 'blocks';
}

/** Every mode the environment says the terminal shows (text modes always). */
export function shownModes({ env, isTTY }: TerminalInfo): Set<RenderMode> {
  const modes = new Set<RenderMode>(['blocks', 'ascii']);
  if (!isTTY || insideMultiplexer(env) || (env.TERM ?? '').toLowerCase() === 'dumb') return modes;
  const support = graphicsSupport(env, isTTY);
  if (support.kitty) modes.add('kitty');
  if (support.iterm2) modes.add('iterm');
  if (saysSixel(env, support)) modes.add('sixel');
  return modes;
}

/** Resolves `auto`; an explicit mode is honoured as given. */
export function resolveRenderMode(choice: RenderChoice, info: TerminalInfo): RenderMode {
  return choice === 'auto' ? detectRenderMode(info) : choice;
}

const MODE_NAMES: Record<RenderMode, string> = {
  kitty: 'kitty graphics',
  iterm: 'iTerm2 inline images',
  sixel: 'sixel graphics',
  blocks: '24-bit half-blocks',
  ascii: 'plain ASCII',
};

/** The mode in use and how it was chosen, plus a one-line hint when a forced mode is one the terminal does not say it shows. */
export interface RenderPick {
  mode: RenderMode;
  /** `auto` picked it for this terminal, or it was asked for (flag or saved setting). */
  how: 'auto' | 'asked';
  hint?: string;
}

export function pickRender(choice: RenderChoice, info: TerminalInfo): RenderPick {
  const mode = resolveRenderMode(choice, info);
  if (choice === 'auto') return { mode, how: 'auto' };
  // Only a terminal is told: a pipe gets what was asked for, on purpose.
  if (!info.isTTY || shownModes(info).has(mode)) return { mode, how: 'asked' };
  const auto = detectRenderMode(info);
  const where = insideMultiplexer(info.env) ? 'tmux and screen pass no graphics through' : `nothing says this terminal shows ${MODE_NAMES[mode]}`;
  return { mode, how: 'asked', hint: `hint: --render ${mode} was asked for, but ${where}; if the pictures are missing or garbled, --render auto picks ${auto} here` };
}

/** `render kitty (auto)`, for the header. */
export function describeRender(pick: Pick<RenderPick, 'mode' | 'how'>): string {
  return `render ${pick.mode} (${pick.how === 'auto' ? 'auto' : 'as asked'})`;
}

export interface GridRenderOptions {
  mode: RenderMode;
  /** Terminal width in columns; the grid is fitted to it. */
  columns: number;
  /** Terminal height in rows, when known: image modes fit the picture to it too. */
  rows?: number;
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
  | {
      kind: 'payload';
      mode: 'kitty' | 'iterm' | 'sixel';
      data: string;
      /** Pixels sent: the PNG's (kitty, iTerm2) or the sixel image's. */
      png: { width: number; height: number };
      /** The box asked for: both for iTerm2 (which keeps the aspect inside it), one for kitty (the terminal computes the other), none for sixel. */
      sent: { columns?: number; rows?: number };
      /** About how many cells it covers, for cells about twice as tall as wide. */
      cells: { columns: number; rows: number };
    };

/** Pixels of a 28x28 tile per terminal column in image modes: the image is sent large, the terminal scales it to the cells. */
const IMAGE_UPSCALE = 5;
/** Widest a square image grid is shown, in columns, so a 3x3 grid stays about the size of a notebook cell's figure. */
const MAX_IMAGE_COLUMNS = 60;
/** Terminal cells are about twice as tall as wide (8x17, 7x15, 9x18, 6x13 px)... */
const CELL_ASPECT = 2;
/** ...but not exactly: a box in cells is checked against these bounds, so it fits whatever the font. */
const CELL_ASPECT_MIN = 1.6;
const CELL_ASPECT_MAX = 2.5;
/** Rows kept free under an image: the echoed line above it and the prompt below stay on screen. */
const RESERVED_ROWS = 3;
/** Smallest common cell in pixels (xterm's default font is 6x13): a sixel image this many pixels per cell fits. */
const SIXEL_CELL = { width: 6, height: 12 };
/** Gray levels of a sixel picture: a VT340 has 16 colour registers. */
const SIXEL_LEVELS = 16;

/**
 * The box of an image in cells, fitted to the window's width and height. Kitty keeps the aspect
 * ratio only when it is given one dimension (it computes the other from the image), so only the one
 * that limits is sent: `c` for a wide picture, `r` when the height limits. The other dimension then
 * depends on the real cell shape, so the sent one is chosen to fit for any cell between
 * CELL_ASPECT_MIN and CELL_ASPECT_MAX. Older kitty (0.26 here; fixed later, kitty issue 7380) keeps the
 * PNG's own height instead: seen in kitty 0.26 under Xvfb, a 3x3 grid showed about 9% wider than tall.
 */
export function imageBox(image: { width: number; height: number }, columns: number, rows?: number): { fit: 'columns' | 'rows'; columns: number; rows: number; maxColumns: number; maxRows: number } {
  const aspect = image.width / image.height;
  // Leave one column free: a line that fills the terminal exactly makes some terminals wrap. A wide
  // picture (a strip of ten digits) gets the width its aspect asks for, so each digit stays as tall
  // as in a square grid.
  const maxColumns = Math.max(1, Math.min(Math.floor(columns) - 1, Math.round(MAX_IMAGE_COLUMNS * Math.min(Math.max(aspect, 1), 4)), image.width));
  const maxRows = rows === undefined || !Number.isFinite(rows) ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(rows) - RESERVED_ROWS);
  if (maxColumns / aspect / CELL_ASPECT <= maxRows) {
    const c = Math.max(1, Math.min(maxColumns, Math.floor(maxRows * aspect * CELL_ASPECT_MIN)));
    return { fit: 'columns', columns: c, rows: Math.max(1, Math.round(c / aspect / CELL_ASPECT)), maxColumns, maxRows };
  }
  const r = Math.max(1, Math.min(maxRows, Math.floor(maxColumns / aspect / CELL_ASPECT_MAX)));
  return { fit: 'rows', rows: r, columns: Math.max(1, Math.round(r * aspect * CELL_ASPECT)), maxColumns, maxRows };
}

/** Draws `tiles` as one grid for the given mode, fitted to `columns` (and `rows`, when given). */
export function renderGrid(tiles: readonly GrayImage[], options: GridRenderOptions): RenderedGrid {
  const grid = tileGrid(tiles, { cols: options.cols, pad: options.gap ?? 2, background: options.gapShade ?? (options.mode === 'ascii' ? 0 : 0.3) });
  return renderImage(grid, options.mode, options.columns, options.rows);
}

/** Draws one grayscale image in the given mode, fitted to `columns` (and `rows` in image modes, when given). */
export function renderImage(image: GrayImage, mode: RenderMode, columns: number, rows?: number): RenderedGrid {
  const width = Math.max(1, Math.floor(columns));
  switch (mode) {
    case 'kitty':
    case 'iterm': {
      const big = upscale(image, IMAGE_UPSCALE);
      const png = encodePng(big);
      const box = imageBox(image, width, rows);
      const cells = { columns: box.columns, rows: box.rows };
      if (mode === 'kitty') {
        const sent = box.fit === 'columns' ? { columns: box.columns } : { rows: box.rows };
        return { kind: 'payload', mode, data: kittyEscape(png, sent), png: { width: big.width, height: big.height }, sent, cells };
      }
      // iTerm2 scales the picture into the box and keeps its aspect (preserveAspectRatio=1), so the
      // box is the room there is: as wide as allowed, as tall as the window (or the picture) allows.
      const tallest = Math.ceil(box.maxColumns / (image.width / image.height) / CELL_ASPECT_MIN);
      const sent = { columns: box.maxColumns, rows: Math.max(1, Math.min(box.maxRows, tallest)) };
      return { kind: 'payload', mode, data: itermEscape(png, sent.columns, sent.rows), png: { width: big.width, height: big.height }, sent, cells };
    }
    case 'sixel': {
      // Sixel has no cells: the picture shows at its pixel size. Scale it by a whole factor that
      // fits the window for cells as small as xterm's default font.
      const maxWidth = (width - 1) * SIXEL_CELL.width;
      const maxHeight = rows === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(rows) - RESERVED_ROWS) * SIXEL_CELL.height;
      const factor = Math.max(1, Math.min(4, Math.floor(Math.min(maxWidth / image.width, maxHeight / image.height))));
      const big = factor > 1 ? upscale(image, factor) : image;
      const sent = {};
      return { kind: 'payload', mode, data: sixelImage(big), png: { width: big.width, height: big.height }, sent, cells: { columns: Math.ceil(big.width / 8), rows: Math.ceil(big.height / 16) } };
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

/** The gray palette of sixel pictures: SIXEL_LEVELS levels from black to white. */
const SIXEL_PALETTE: [number, number, number][] = Array.from({ length: SIXEL_LEVELS }, (_, i) => {
  const v = Math.round((i * 255) / (SIXEL_LEVELS - 1));
  return [v, v, v];
});

/** A sixel picture (DCS ... ST) of a grayscale image, encoded by the `sixel` package with a 16-level gray palette. */
export function sixelImage(image: GrayImage): string {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) {
    // Quantised here to the palette's levels, so every pixel matches a register exactly.
    const v = SIXEL_PALETTE[Math.round(Math.min(1, Math.max(0, image.pixels[i]!)) * (SIXEL_LEVELS - 1))]![0];
    rgba[i * 4] = v;
    rgba[i * 4 + 1] = v;
    rgba[i * 4 + 2] = v;
    rgba[i * 4 + 3] = 255;
  }
  return `${introducer(1)}${sixelEncode(rgba, image.width, image.height, SIXEL_PALETTE)}${FINALIZER}`;
}

/**
 * Kitty graphics protocol: transmit-and-display a PNG (f=100), base64 in chunks of at most 4096
 * bytes, over `c` columns or `r` rows (give one: kitty then keeps the aspect ratio).
 */
export function kittyEscape(png: Buffer, box: { columns?: number; rows?: number }): string {
  const b64 = png.toString('base64');
  const size = [box.columns === undefined ? '' : `,c=${box.columns}`, box.rows === undefined ? '' : `,r=${box.rows}`].join('');
  let out = '';
  for (let at = 0; at < b64.length; at += 4096) {
    const chunk = b64.slice(at, at + 4096);
    const more = at + 4096 < b64.length ? 1 : 0;
    // q=2 keeps the terminal from answering (its reply would land in our stdin as keystrokes).
    const control = at === 0 ? `a=T,f=100,q=2${size},m=${more}` : `m=${more}`;
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
