/**
 * Conv2DBackpropFilter for wasm (the stock wasm backend has none: tfjs issue 8474).
 *
 * dW[i, j, c, o] = sum_{b, y, x} X[b, y*s + i - padTop, x*s + j - padLeft, c] * dY[b, y, x, o]
 * is itself a convolution once the batch is treated as the channel axis: input X' = X as
 * [c, H, W, b], filter dY' = dY as [outH, outW, b, o], dilation = the forward stride, stride 1.
 * The result [c, kh, kw, o] is transposed back to [kh, kw, c, o]. All of it runs in wasm's own
 * (XNNPACK) conv2d, exact up to float summation order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope } from './scope.js';

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
    let xT = scope.transpose(x, [3, 1, 2, 0]); // [inC, H, W, b]
    if (bottom < 0 || right < 0) {
      const h = inHeight + Math.min(bottom, 0);
      const w = inWidth + Math.min(right, 0);
      xT = scope.slice(xT, [0, 0, 0, 0], [inC, h, w, xT.shape[3]!]);
    }
    const dyT = scope.transpose(dy, [1, 2, 0, 3]); // [outH, outW, b, outC]
    const conv = scope.run(
      'Conv2D',
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, Math.max(bottom, 0)],
          [left, Math.max(right, 0)],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [sh, sw],
        dimRoundingMode: null,
      } as unknown as tf.NamedAttrMap,
    ); // [inC, kh, kw, outC]
    if (conv.shape[1] !== kh || conv.shape[2] !== kw || conv.shape[3] !== outC) {
      throw new Error(`Conv2DBackpropFilter: unexpected shape ${conv.shape.join('x')}`);
    }
    return scope.transpose(conv, [1, 2, 0, 3]); // [kh, kw, inC, outC]
  });
}
