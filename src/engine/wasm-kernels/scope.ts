/**
 * Calls the wasm backend's own kernels on TensorInfos from inside another kernel, so a composite
 * kernel never leaves wasm memory (no readSync / dataSync copies) and never goes through the
 * engine (which would record the intermediates on a gradient tape).
 */
import * as tf from '@tensorflow/tfjs-core';

/** The part of the wasm backend that composite kernels use. */
export interface WasmBackendLike {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** The wasm backend's direct access to its heap, for kernels that move data in JavaScript. */
export interface HeapBackend extends WasmBackendLike {
  incRef(dataId: tf.DataId): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A view of the tensor's data on the wasm heap, no copy: valid until the heap next grows. */
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

type Attrs = tf.NamedAttrMap;
type Inputs = Record<string, tf.TensorInfo>;

// The stock wasm kernel functions, captured before our registrations replace any of them.
const stock = new Map<string, tf.KernelFunc>();

/** Remembers the wasm backend's current kernel for `name` (once) so it stays callable after we replace it. */
export function captureStock(name: string): void {
  if (stock.has(name)) return;
  const config = tf.getKernel(name, 'wasm');
  if (config) stock.set(name, config.kernelFunc);
}

/** The stock wasm kernel captured for `name`, if any. */
export function stockKernel(name: string): tf.KernelFunc | undefined {
  return stock.get(name);
}

/** A set of intermediate results that are freed together when the composite kernel is done. */
export class KernelScope {
  private readonly temps: tf.TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  /** Runs the stock wasm kernel `name`; its output is freed by `dispose` unless `keep` takes it. */
  run(name: string, inputs: Inputs, attrs: Attrs = {}): tf.TensorInfo {
    const fn = stock.get(name) ?? tf.getKernel(name, 'wasm')?.kernelFunc;
    if (!fn) throw new Error(`wasm kernel ${name} is not registered`);
    const out = fn({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several tensors`);
    this.temps.push(out);
    return out;
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /**
   * A stride-1 NHWC conv2d with explicit [before, after] padding of height and width, by the Conv2D
   * kernel registered now: the SIMD one (conv2d.ts), which hands what it does not take to XNNPACK.
   */
  conv2d(x: tf.TensorInfo, filter: tf.TensorInfo, pad: { height: [number, number]; width: [number, number] }, dilations: [number, number] = [1, 1]): tf.TensorInfo {
    const attrs = { strides: [1, 1], pad: [[0, 0], pad.height, pad.width, [0, 0]], dataFormat: 'NHWC', dilations, dimRoundingMode: null };
    const conv = tf.getKernel('Conv2D', 'wasm');
    if (!conv) throw new Error('wasm kernel Conv2D is not registered');
    return this.adopt(conv.kernelFunc({ inputs: { x, filter }, attrs: attrs as unknown as Attrs, backend: this.backend }) as tf.TensorInfo);
  }

  /** Hands `info` to the caller: it is not freed by `dispose`. */
  keep(info: tf.TensorInfo): tf.TensorInfo {
    const i = this.temps.indexOf(info);
    if (i >= 0) this.temps.splice(i, 1);
    return info;
  }

  /** Makes the scope free `info` (an output it did not create) when it is disposed. */
  adopt(info: tf.TensorInfo): tf.TensorInfo {
    this.temps.push(info);
    return info;
  }

  dispose(): void {
    for (const info of this.temps.splice(0)) this.backend.disposeData(info.dataId);
  }
}

/** Runs `body` with a fresh scope and frees every intermediate it did not keep, also on error. */
export function withScope(backend: unknown, body: (scope: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new KernelScope(backend as WasmBackendLike);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}
