/**
 * Kernels that only move data, where wasm's versions are slow:
 * - Cast to the same dtype copies the tensor (tf.mul's gradient casts both operands to float32
 *   every time); tensors are immutable, so sharing the buffer with a reference count is exact.
 * - Concat along the last axis of float32 tensors with narrow rows (the encoder's image + label
 *   planes, [b,28,28,1] + [b,28,28,10]) runs a typed-array `set` per row in JS; a plain loop
 *   over the wasm heap is several times faster for rows this short.
 */
import * as tf from '@tensorflow/tfjs-core';
import { stockKernel, type HeapBackend } from './scope.js';

type Args = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

export function cast(args: Args): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (dtype !== x.dtype || dtype === 'string') return stockKernel('Cast')!(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  (args.backend as HeapBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

// Rows at least this wide are already copied efficiently by the stock kernel's per-row `set`.
const MAX_ROW = 64;

export function concat(args: Args): tf.TensorInfo {
  const inputs = args.inputs as unknown as tf.TensorInfo[];
  const first = inputs[0];
  const { axis } = args.attrs as unknown as tf.ConcatAttrs;
  const rank = first?.shape.length ?? 0;
  const ax = first ? tf.util.parseAxisParam(axis, first.shape)[0]! : 0;
  const simple =
    first !== undefined &&
    inputs.length > 1 &&
    ax === rank - 1 &&
    inputs.every((t) => t.dtype === 'float32' && t.shape.length === rank && t.shape.slice(0, -1).every((d, i) => d === first.shape[i]) && t.shape[rank - 1]! <= MAX_ROW);
  if (!simple) return stockKernel('Concat')!(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const backend = args.backend as HeapBackend;
  const widths = inputs.map((t) => t.shape[rank - 1]!);
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = first.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([...first.shape.slice(0, -1), total], 'float32');
  const dst = backend.typedArrayFromHeap(out);
  let offset = 0;
  for (const [k, t] of inputs.entries()) {
    const src = backend.typedArrayFromHeap(t);
    const w = widths[k]!;
    for (let r = 0; r < rows; r++) {
      const s = r * w;
      const d = r * total + offset;
      for (let j = 0; j < w; j++) dst[d + j] = src[s + j]!;
    }
    offset += w;
  }
  return out;
}

/**
 * Multiply by a scalar 1 is the other operand. tfjs-layers' swish is sigmoid(x * alpha) * x with
 * alpha = 1, and its gradient multiplies by alpha again: two full-size copies per swish layer and
 * step, 14 layers here. Exact: the product with 1 is the value itself (also for NaN and infinities).
 */
export function multiply(args: Args): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const backend = args.backend as HeapBackend;
  for (const [one, other] of [
    [b, a],
    [a, b],
  ] as const) {
    if (one.shape.length === 0 && one.dtype === 'float32' && other.dtype === 'float32' && backend.typedArrayFromHeap(one)[0] === 1) {
      backend.incRef(other.dataId);
      return { dataId: other.dataId, shape: [...other.shape], dtype: other.dtype };
    }
  }
  return stockKernel('Multiply')!(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}
