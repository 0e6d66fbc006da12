/**
 * Conv2DBackpropInput for wasm through wasm's fast (XNNPACK) conv2d. The stock wasm kernel is a
 * naive loop and was ~55% of a training step; it is also the forward pass of Conv2DTranspose.
 *
 * Forward conv (stride s, kernel k, top pad t): output row y reads input row i = y*s + p - t.
 * So with u = i + t = s*m + r (r the phase of u), dx[u] = sum_a dy[m - a] * W[r + s*a] over the
 * a >= 0 with r + s*a < k: for every phase r, a stride-1 correlation of dy with a few taps of W.
 * All s*s phases (in 2-D) become ONE stride-1 conv2d of dy with a kernel of A = ceil(k/s) taps per
 * axis and s*s*inC output channels (taps a phase lacks are zero), followed by a transpose that
 * interleaves the phases (what DepthToSpace(s) does), and a slice when t is not a multiple of s. For s = 1 this is the familiar
 * conv with the flipped, transposed kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope, type HeapBackend, type KernelScope } from './scope.js';

interface Geometry {
  readonly k: number; // kernel size
  readonly s: number; // stride
  readonly a: number; // taps per phase: ceil(k / s)
  readonly padBefore: number; // padding of dy before the conv
  readonly padAfter: number; // after; negative: rows of dy to drop
  readonly rho: number; // offset of dx inside the interleaved output
}

/** Geometry along one spatial axis. */
function axisGeometry(k: number, s: number, inSize: number, outSize: number, t: number): Geometry {
  const a = Math.ceil(k / s);
  const tq = Math.floor(t / s);
  const rho = t - tq * s;
  const needed = Math.ceil((inSize + rho) / s); // interleaved rows needed, in units of s
  return { k, s, a, padBefore: a - 1 - tq, padAfter: needed - outSize + tq, rho };
}

// Where each element of the phase kernel [ah, aw, outC, sh*sw*inC] comes from in the flattened
// filter [kh, kw, inC, outC] (-1: a tap the phase lacks, zero); one table per geometry.
const phaseTables = new Map<string, Int32Array>();

function phaseKernelIndex(gh: Geometry, gw: Geometry, inC: number, outC: number): Int32Array {
  const key = [gh.k, gw.k, gh.s, gw.s, inC, outC].join(',');
  const cached = phaseTables.get(key);
  if (cached) return cached;
  const idx = new Int32Array(gh.a * gw.a * outC * gh.s * gw.s * inC);
  let n = 0;
  for (let qh = 0; qh < gh.a; qh++) {
    for (let qw = 0; qw < gw.a; qw++) {
      for (let o = 0; o < outC; o++) {
        for (let rh = 0; rh < gh.s; rh++) {
          for (let rw = 0; rw < gw.s; rw++) {
            // Tap q reads dy[m - (a - 1 - q)], i.e. kernel row r + s * (a - 1 - q).
            const ph = rh + gh.s * (gh.a - 1 - qh);
            const pw = rw + gw.s * (gw.a - 1 - qw);
            for (let c = 0; c < inC; c++) {
              idx[n++] = ph < gh.k && pw < gw.k ? ((ph * gw.k + pw) * inC + c) * outC + o : -1;
            }
          }
        }
      }
    }
  }
  phaseTables.set(key, idx);
  return idx;
}

/**
 * The phase kernel, gathered in JavaScript: a filter is at most a few tens of thousands of numbers,
 * and wasm's GatherV2 (or Reverse and a 6-D Transpose) took 2-5 ms a call for what this loop does
 * in well under one, on every training step, since the weights are new each step.
 */
function phaseKernel(scope: KernelScope, filter: tf.TensorInfo, gh: Geometry, gw: Geometry, inC: number, outC: number): tf.TensorInfo {
  const backend = scope.backend as HeapBackend;
  const idx = phaseKernelIndex(gh, gw, inC, outC);
  const kernel = scope.adopt(backend.makeOutput([gh.a, gw.a, outC, gh.s * gw.s * inC], 'float32'));
  // Both views after the allocation, which may grow the heap and detach earlier views.
  const source = backend.typedArrayFromHeap(filter);
  const values = backend.typedArrayFromHeap(kernel);
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i]!;
    values[i] = from >= 0 ? source[from]! : 0;
  }
  return kernel;
}

interface FilterCacheBackend {
  dataIdMap: { has(dataId: tf.DataId): boolean };
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

// Phase kernels by filter, per backend. With fixed weights (generation) the kernel is built once,
// and XNNPACK, which caches its packed operator per filter tensor, is not re-packed on every call.
// Entries whose filter has been freed are dropped on the next call; in training (new weights every
// step) that bounds the cache to the layers of about one step.
const phaseKernels = new WeakMap<object, Map<tf.DataId, { key: string; kernel: tf.TensorInfo }>>();

function cachedPhaseKernel(scope: KernelScope, filter: tf.TensorInfo, gh: Geometry, gw: Geometry, inC: number, outC: number): tf.TensorInfo {
  const backend = scope.backend as unknown as FilterCacheBackend;
  let cache = phaseKernels.get(backend);
  if (!cache) phaseKernels.set(backend, (cache = new Map()));
  for (const [dataId, entry] of cache) {
    if (!backend.dataIdMap.has(dataId)) {
      backend.disposeData(entry.kernel.dataId);
      cache.delete(dataId);
    }
  }
  const key = [gh.k, gw.k, gh.s, gw.s, inC, outC].join(',');
  const hit = cache.get(filter.dataId);
  if (hit?.key === key) return hit.kernel;
  const kernel = scope.keep(phaseKernel(scope, filter, gh, gw, inC, outC));
  if (!hit) cache.set(filter.dataId, { key, kernel });
  else scope.adopt(kernel); // same filter in a different geometry: not cached, freed with the scope
  return kernel;
}

export function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropInput supports NHWC only');
  const [kh, kw, inC, outC] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, [kh, kw, inC, outC], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const [batch, inH, inW] = attrs.inputShape;
  const gh = axisGeometry(kh, info.strideHeight, inH, info.outHeight, info.padInfo.top);
  const gw = axisGeometry(kw, info.strideWidth, inW, info.outWidth, info.padInfo.left);
  return withScope(args.backend, (scope) => {
    let src = dy;
    if (gh.padAfter < 0 || gw.padAfter < 0) {
      // Trailing rows of dy that reach no input row (only with unusual explicit padding).
      src = scope.slice(dy, [0, 0, 0, 0], [batch, info.outHeight + Math.min(gh.padAfter, 0), info.outWidth + Math.min(gw.padAfter, 0), outC]);
    }
    const kernel = cachedPhaseKernel(scope, filter, gh, gw, inC, outC);
    let out = scope.conv2d(src, kernel, { height: [gh.padBefore, Math.max(gh.padAfter, 0)], width: [gw.padBefore, Math.max(gw.padAfter, 0)] }); // [b, neededH, neededW, sh*sw*inC]
    if (gh.s > 1 || gw.s > 1) {
      if (gh.s !== gw.s) throw new Error('Conv2DBackpropInput: unequal strides are not supported on wasm');
      // Interleave the phases: [b, h, w, (rh, rw, c)] -> [b, (h, rh), (w, rw), c]. A 4-D transpose
      // of [b*h, w, rh, rw*c] does it; wasm's DepthToSpace is ~8x slower at these sizes.
      const [, oh, ow] = out.shape as [number, number, number, number];
      const split = scope.reshape(out, [batch * oh, ow, gh.s, gw.s * inC]);
      const moved = scope.transpose(split, [0, 2, 1, 3]);
      out = scope.reshape(moved, [batch, oh * gh.s, ow * gw.s, inC]);
    }
    if (gh.rho !== 0 || gw.rho !== 0 || out.shape[1] !== inH || out.shape[2] !== inW) {
      out = scope.slice(out, [0, gh.rho, gw.rho, 0], [batch, inH, inW, inC]);
    }
    return out;
  });
}

/** How many phase kernels are cached for `backend` (tests: the cache must not grow without bound). */
export function cachedPhaseKernelCount(backend: object): number {
  return phaseKernels.get(backend)?.size ?? 0;
}
