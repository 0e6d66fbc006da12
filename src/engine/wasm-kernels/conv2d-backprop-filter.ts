/**
 * Conv2DBackpropFilter for wasm (the stock wasm backend has none: tfjs issue 8474).
 *
 * dW[i, j, c, o] = sum_{b, y, x} X[b, y*s + i - padTop, x*s + j - padLeft, c] * dY[b, y, x, o]
 * is itself a convolution once the batch is treated as the channel axis: input X' = X as
 * [c, H, W, b], filter dY' = dY as [outH, outW, b, o], dilation = the forward stride, stride 1.
 * The result [c, kh, kw, o] is transposed back to [kh, kw, c, o]. With few output channels and
 * stride 1 the operands swap roles instead (filterGradientOverOutputChannels). All of it runs in
 * wasm's own (XNNPACK) conv2d, exact up to float summation order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope, type KernelScope } from './scope.js';

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
  const { strideHeight: sh, strideWidth: sw, outHeight, outWidth, inHeight, inWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Padding after the input so that exactly kh x kw output positions exist; negative means rows
  // or columns of X that no output reads ('valid' with a remainder), which we slice off instead.
  const bottom = (outHeight - 1) * sh + kh - inHeight - top;
  const right = (outWidth - 1) * sw + kw - inWidth - left;
  return withScope(args.backend, (scope) => {
    if (sh === 1 && sw === 1 && outC < FEW_OUTPUT_CHANNELS && outC < inC) return filterGradientOverOutputChannels(scope, x, dy, { kh, kw, inC, outC, top, left, bottom, right });
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

/**
 * Below this many output channels (and fewer than input channels) the operands swap roles. Measured on
 * the decoder's last conv (16 -> 1 channels, 28x28, batch 64): 6.8-7.2 ms the usual way, 4.7-5.0 ms
 * swapped. Layers with 16 or more output channels fill XNNPACK's column tiles either way.
 */
const FEW_OUTPUT_CHANNELS = 8;

interface FilterGeometry {
  readonly kh: number;
  readonly kw: number;
  readonly inC: number;
  readonly outC: number;
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/**
 * Stride 1 only: the same sum with the roles of the operands swapped. The padded input X becomes the
 * filter F[u, v, b, c] = Xpad[b, u, v, c], and dY, padded by k - 1 on every side, the input
 * G[o, p, q, b] = dY[b, p - (kh - 1), q - (kw - 1), o]; then
 * dW[i, j, c, o] = sum_{u, v, b} G[o, (kh - 1 - i) + u, (kw - 1 - j) + v, b] F[u, v, b, c],
 * a valid stride-1 conv whose output [outC, kh, kw, inC] is dW flipped in both spatial axes.
 * XNNPACK's GEMM then runs over outC * kh * kw rows and inC columns instead of inC * kh * kw rows
 * and outC columns: for a layer with one or two output channels (the decoder's last) most of each
 * column tile is no longer wasted.
 */
function filterGradientOverOutputChannels(scope: KernelScope, x: tf.TensorInfo, dy: tf.TensorInfo, g: FilterGeometry): tf.TensorInfo {
  // At stride 1 every input row and column is read by some output, so bottom and right are never negative.
  const xT = scope.transpose(x, [1, 2, 0, 3]); // [H, W, b, inC]
  const filter = scope.run('PadV2', { x: xT }, { paddings: [[g.top, g.bottom], [g.left, g.right], [0, 0], [0, 0]], constantValue: 0 });
  const dyT = scope.transpose(dy, [3, 1, 2, 0]); // [outC, outH, outW, b]
  const conv = scope.conv2d(dyT, filter, { height: [g.kh - 1, g.kh - 1], width: [g.kw - 1, g.kw - 1] }); // [outC, kh, kw, inC], flipped
  if (conv.shape[1] !== g.kh || conv.shape[2] !== g.kw || conv.shape[3] !== g.inC) {
    throw new Error(`Conv2DBackpropFilter: unexpected shape ${conv.shape.join('x')}`);
  }
  const unflipped = scope.run('Reverse', { x: conv }, { dims: [1, 2] });
  return scope.transpose(unflipped, [1, 2, 3, 0]); // [kh, kw, inC, outC]
}
