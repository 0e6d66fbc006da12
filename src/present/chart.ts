/**
 * The loss curves drawn at the end of training: reconstruction and KL per epoch, one small line
 * chart each, in braille dots (2x4 per cell) on a terminal or `*` characters as plain ASCII.
 */

/** One epoch's training means (an EpochReport or a checkpoint's history row fits). */
export interface EpochPoint {
  readonly epoch: number;
  readonly recon: number;
  readonly kl: number;
  readonly testRecon?: number;
  readonly testKl?: number;
}

export type ChartStyle = 'braille' | 'ascii';

export interface ChartOptions {
  /** Columns available; the plot area is what is left after the axis labels. */
  columns: number;
  style: ChartStyle;
  /** Text rows of each plot. Default 6. */
  rows?: number;
  /** Width of the y-axis labels (so stacked charts line up); default what this series needs. */
  labelWidth?: number;
}

/** Braille dot bits, by [row][column] inside a 2x4 cell (Unicode's braille numbering). */
const DOT_BITS = [
  [0x01, 0x08],
  [0x02, 0x10],
  [0x04, 0x20],
  [0x40, 0x80],
] as const;

/** `0.0583`, `25.6`, `1.2e-5`: three significant digits, no exponent for ordinary sizes. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(3)));
}

/** Marks every dot on the straight line between two dots (Bresenham). */
function line(x0: number, y0: number, x1: number, y1: number, mark: (x: number, y: number) => void): void {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    mark(x0, y0);
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

/** One series as text rows with a y axis (max at the top, min at the bottom) and an x axis. */
export function plotSeries(values: readonly number[], options: ChartOptions): string[] {
  const rows = Math.max(2, options.rows ?? 6);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const top = formatTick(max);
  const bottom = formatTick(min);
  const labelWidth = Math.max(options.labelWidth ?? 0, top.length, bottom.length);
  const cells = Math.max(4, Math.min(60, options.columns - labelWidth - 2));
  const braille = options.style === 'braille';
  const dotsX = braille ? cells * 2 : cells;
  const dotsY = braille ? rows * 4 : rows;
  const grid: number[][] = Array.from({ length: rows }, () => new Array<number>(cells).fill(0));
  const mark = (x: number, y: number): void => {
    if (braille) grid[Math.floor(y / 4)]![Math.floor(x / 2)]! |= DOT_BITS[y % 4]![x % 2]!;
    else grid[y]![x] = 1;
  };
  const at = (i: number): [number, number] => {
    const x = values.length === 1 ? 0 : Math.round((i / (values.length - 1)) * (dotsX - 1));
    // A flat series sits in the middle.
    const fraction = max === min ? 0.5 : (values[i]! - min) / (max - min);
    return [x, Math.round((1 - fraction) * (dotsY - 1))];
  };
  for (let i = 0; i < values.length; i++) {
    const [x, y] = at(i);
    if (i === 0) mark(x, y);
    else line(...at(i - 1), x, y, mark);
  }
  const out = grid.map((cellsOfRow, r) => {
    const label = r === 0 ? top : r === rows - 1 ? bottom : '';
    const body = cellsOfRow.map((bits) => (braille ? (bits === 0 ? ' ' : String.fromCodePoint(0x2800 + bits)) : bits === 0 ? ' ' : '*')).join('');
    return `${label.padStart(labelWidth)} ${braille ? (r === 0 || r === rows - 1 ? '┤' : '│') : '|'}${body}`.trimEnd();
  });
  out.push(`${' '.repeat(labelWidth)} ${braille ? '└' : '+'}${(braille ? '─' : '-').repeat(cells)}`);
  return out;
}

/**
 * Both curves with titles and the epoch range, ready to print. Empty when no epoch finished.
 * KL is in nats per sample before gamma; reconstruction is the per-pixel MSE.
 */
export function lossChart(history: readonly EpochPoint[], options: ChartOptions): string[] {
  if (history.length === 0) return [];
  const first = history[0]!;
  const last = history.at(-1)!;
  const span = history.length === 1 ? `epoch ${first.epoch}` : `epochs ${first.epoch}-${last.epoch}`;
  const arrow = options.style === 'braille' ? '→' : '->';
  const test = (value: number | undefined, digits: number): string => (value === undefined ? '' : ` (test ${value.toFixed(digits)})`);
  const recon = history.map((h) => h.recon);
  const kl = history.map((h) => h.kl);
  const ticks = [...recon, ...kl].flatMap((v) => [formatTick(v)]);
  const shared = { ...options, labelWidth: Math.max(...ticks.map((t) => t.length)) };
  const reconPlot = plotSeries(recon, shared);
  const klPlot = plotSeries(kl, shared);
  // Epoch numbers under the last axis: the first at the left end, the last at the right end.
  const axis = klPlot.at(-1)!;
  const start = shared.labelWidth + 2;
  const firstLabel = String(first.epoch);
  const lastLabel = history.length === 1 ? '' : String(last.epoch);
  const epochs = `${' '.repeat(start)}${firstLabel}${lastLabel.padStart(Math.max(lastLabel.length + 1, axis.length - start - firstLabel.length))} epoch`;
  return [
    `loss curves, ${span} (training means per epoch)`,
    `reconstruction, per-pixel MSE: ${first.recon.toFixed(4)} ${arrow} ${last.recon.toFixed(4)}${test(last.testRecon, 4)}`,
    ...reconPlot,
    `KL, nats per sample: ${first.kl.toFixed(2)} ${arrow} ${last.kl.toFixed(2)}${test(last.testKl, 2)}`,
    ...klPlot,
    epochs,
  ];
}
