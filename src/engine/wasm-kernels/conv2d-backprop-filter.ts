/**
 * Conv2DBackpropFilter for wasm (the stock wasm backend has none: tfjs issue 8474):
 *
 *   dW[i, j, c, o] = sum_{b, y, x} X[b, y*s + i - padTop, x*s + j - padLeft, c] * dY[b, y, x, o]
 *
 * The model's layers (output channels a multiple of 8, or a single output channel over a multiple of
 * 4 input channels) run in the hand-written SIMD kernel of filter-gradient.wat. Other shapes use
 * XNNPACK: the sum is a convolution once the batch is treated as the channel axis (input X as
 * [c, H, W, b], filter dY as [outH, outW, b, o], dilation = the forward stride), transposed back
 * from [c, kh, kw, o]. XNNPACK packs its filter operand on every call, and here that operand is a
 * whole activation: the 28x28x16 -> 16 layer at 64 rows took 21-25 ms that way, 7 ms in SIMD.
 * Both are exact up to float summation order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope, type HeapBackend } from './scope.js';
import { paddingAfter } from './conv2d.js';
import { heapOffset, simdChannelsFit, simdKernels } from './simd-module.js';

export function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
  const [kh, kw, inC, outC] = attrs.filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const simd = simdChannelsFit(inC, outC) ? simdKernels(args.backend) : null;
  if (!simd) return filterGradientByXnnpack(args.backend, x, dy, info);
  const backend = args.backend as HeapBackend;
  const dw = backend.makeOutput([kh, kw, inC, outC], 'float32');
  simd.conv2dBackpropFilter(
    heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dw),
    info.batchSize, info.inHeight, info.inWidth, inC, info.outHeight, info.outWidth, outC,
    kh, kw, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
  );
  return dw;
}

function filterGradientByXnnpack(backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { strideHeight: sh, strideWidth: sw, inHeight, inWidth, inChannels: inC, outChannels: outC, filterHeight: kh, filterWidth: kw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Negative: rows or columns of X that no output reads, which we slice off instead.
  const { bottom, right } = paddingAfter(info);
  return withScope(backend, (scope) => {
    let xT = scope.transpose(x, [3, 1, 2, 0]); // [inC, H, W, b]
    if (bottom < 0 || right < 0) {
      const h = inHeight + Math.min(bottom, 0);
      const w = inWidth + Math.min(right, 0);
      xT = scope.slice(xT, [0, 0, 0, 0], [inC, h, w, xT.shape[3]!]);
    }
    const dyT = scope.transpose(dy, [1, 2, 0, 3]); // [outH, outW, b, outC]
    const conv = scope.conv2d(xT, dyT, { height: [top, Math.max(bottom, 0)], width: [left, Math.max(right, 0)] }, [sh, sw]); // [inC, kh, kw, outC]
    if (conv.shape[1] !== kh || conv.shape[2] !== kw || conv.shape[3] !== outC) {
      throw new Error(`Conv2DBackpropFilter: unexpected shape ${conv.shape.join('x')}`);
    }
    return scope.transpose(conv, [1, 2, 0, 3]); // [kh, kw, inC, outC]
  });
}
