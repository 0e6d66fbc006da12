/**
 * The hand-written wasm SIMD kernels (*.wat beside this file, assembled by tools/build-wasm.ts),
 * instantiated on the wasm backend's own memory: they read and write tensors where the backend keeps
 * them, by heap offset, with no copies. One instance per backend (each training worker has its own).
 */
import * as tf from '@tensorflow/tfjs-core';
import { WASM_BASE64 as CONV2D } from './conv2d.wasm.js';
import { WASM_BASE64 as FILTER_GRADIENT } from './filter-gradient.wasm.js';

export interface SimdKernels {
  /** See conv2d.wat. All arguments are i32: heap byte offsets (bias 0: none), then sizes. */
  conv2d(
    x: number, filter: number, bias: number, out: number,
    batch: number, inH: number, inW: number, inC: number,
    outH: number, outW: number, outC: number,
    kh: number, kw: number, strideH: number, strideW: number, top: number, left: number,
  ): void;
  /** See filter-gradient.wat. All arguments are i32: heap byte offsets, then sizes. */
  conv2dBackpropFilter(
    x: number, dy: number, dw: number,
    batch: number, inH: number, inW: number, inC: number,
    outH: number, outW: number, outC: number,
    kh: number, kw: number, strideH: number, strideW: number, top: number, left: number,
  ): void;
}

/** The parts of the wasm backend the SIMD kernels need. */
interface EmscriptenBackend {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
}

let compiled: WebAssembly.Module[] | null | undefined;
const instances = new WeakMap<object, SimdKernels | null>();

/** The SIMD kernels on `backend`'s memory, or null where this wasm engine cannot run them. */
export function simdKernels(backend: unknown): SimdKernels | null {
  const key = backend as object;
  const known = instances.get(key);
  if (known !== undefined) return known;
  let kernels: SimdKernels | null = null;
  const memory = (backend as EmscriptenBackend).wasm?.asm?.memory;
  if (memory instanceof WebAssembly.Memory) {
    try {
      if (compiled === undefined) compiled = [CONV2D, FILTER_GRADIENT].map((bytes) => new WebAssembly.Module(Buffer.from(bytes, 'base64')));
      if (compiled) {
        const exports = compiled.map((module) => new WebAssembly.Instance(module, { env: { memory } }).exports);
        kernels = Object.assign({}, ...exports) as SimdKernels;
      }
    } catch {
      compiled = null; // no wasm SIMD: the callers keep their XNNPACK paths
    }
  }
  instances.set(key, kernels);
  return kernels;
}

/**
 * Whether the SIMD convolutions take these channel counts: they tile 8 output channels, or run
 * their vectors along the input channels, 4 at a time, when there is a single output channel.
 */
export function simdChannelsFit(inC: number, outC: number): boolean {
  if (inC < 1 || outC < 1) return false; // the kernels' inner loops run at least once
  return outC % 8 === 0 || (outC === 1 && inC % 4 === 0);
}

/** Where the backend keeps `info`'s data: a byte offset into its heap. */
export function heapOffset(backend: unknown, info: tf.TensorInfo): number {
  const entry = (backend as EmscriptenBackend).dataIdMap.get(info.dataId);
  if (!entry) throw new Error('tensor is not on the wasm heap');
  return entry.memoryOffset;
}
