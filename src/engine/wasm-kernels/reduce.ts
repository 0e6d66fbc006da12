/**
 * Sum / Mean over all axes but the last ([b, h, w, C] -> [C]): every bias gradient and every
 * BatchNorm statistic and gradient. wasm's kernels transpose the whole input to put the reduced
 * axes innermost and then loop; XNNPACK's average pooling reads it once in place (measured on fresh
 * [128, 28, 28, 16] tensors: 5.0 ms -> 1.0 ms; a matmul with a row of ones was 26 ms, as XNNPACK
 * packs the big operand first). Sum is the mean times N.
 *
 * One pooling per reduced axis, innermost first (over w, then h, then b), not one window over all
 * b*h*w rows: pooling adds in float32, one value at a time, and a running float32 sum of ~1e5 values
 * drifts by thousands of ulps, always the same way for the same data. Short windows keep each sum a
 * few dozen terms long. This is what makes the gradient of a bias that feeds a BatchNorm (zero in
 * exact arithmetic) about as small as float32 allows: with one window it came out at ~3e-7 with the
 * same sign step after step, and Adam walked that bias steadily away (to ~2 over 30 epochs, where
 * PyTorch's stays below 0.01), with BatchNorm's moving mean trailing it. The extra passes read only
 * the first pass's output, 1/w of the input (about 0.2 ms more per [128, 28, 28, 16] sum, measured
 * while a training run shared the machine).
 * Other reductions go to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stockKernel, withScope } from './scope.js';

interface WritableBackend {
  write(values: Float32Array, shape: number[], dtype: 'float32'): tf.DataId;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

// Below this many rows the stock kernel is as fast.
const MIN_ROWS = 4096;
const MAX_CACHED = 32;

// The scalar N (Sum = N * mean), per backend, kept in wasm memory for the run.
const counts = new WeakMap<object, Map<number, tf.TensorInfo>>();

function countScalar(backend: object, n: number): tf.TensorInfo {
  let cache = counts.get(backend);
  if (!cache) counts.set(backend, (cache = new Map()));
  const hit = cache.get(n);
  if (hit) return hit;
  if (cache.size >= MAX_CACHED) {
    for (const info of cache.values()) (backend as WritableBackend).disposeData(info.dataId, true);
    cache.clear();
  }
  const info: tf.TensorInfo = { dataId: (backend as WritableBackend).write(Float32Array.of(n), [], 'float32'), shape: [], dtype: 'float32' };
  cache.set(n, info);
  return info;
}

// Longest float32 running sum a pass may make, where the axes allow it.
const MAX_WINDOW = 64;

/**
 * Window sizes, innermost axis first, whose product is the number of rows: each axis is one pass,
 * and an axis longer than MAX_WINDOW is split into factors no longer than it where it has them
 * (a prime length stays one window).
 */
function poolingWindows(axes: readonly number[]): number[] {
  const windows: number[] = [];
  for (let d of [...axes].reverse()) {
    while (d > MAX_WINDOW) {
      let f = MAX_WINDOW;
      while (f > 1 && d % f !== 0) f--;
      if (f === 1) break;
      windows.push(f);
      d /= f;
    }
    if (d > 1) windows.push(d);
  }
  return windows;
}

function leadingReduction(kind: 'Sum' | 'Mean') {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const x = args.inputs['x'] as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const n = x.shape.slice(0, -1).reduce((p, d) => p * d, 1);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32' || n < MIN_ROWS) {
      return stockKernel(kind)!(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const c = x.shape[rank - 1]!;
    return withScope(args.backend, (scope) => {
      // Each pass views the rows left as [1, rows / d, d, c] and averages windows of d: the mean of
      // equal-sized groups' means is the mean.
      let out = x;
      let rows = n;
      for (const d of poolingWindows(x.shape.slice(0, -1))) {
        const view = scope.reshape(out, [1, rows / d, d, c]);
        out = scope.run('AvgPool', { x: view }, { filterSize: [1, d], strides: [1, 1], pad: 'valid', dimRoundingMode: null } as unknown as tf.NamedAttrMap);
        rows /= d;
      }
      if (kind === 'Sum') out = scope.run('Multiply', { a: out, b: countScalar(args.backend as object, n) });
      return scope.reshape(out, keepDims ? [...Array<number>(rank - 1).fill(1), c] : [c]);
    });
  };
}

export const sum = leadingReduction('Sum');
export const mean = leadingReduction('Mean');
