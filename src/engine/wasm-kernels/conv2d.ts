/**
 * Conv2D and FusedConv2D on wasm in the hand-written SIMD kernel of conv2d.wat wherever it applies
 * (NHWC, dilation 1, float32, channel counts that simdChannelsFit, an activation wasm has as a kernel
 * of its own, rows wide enough: mostlyInterior); everything else goes to the stock (XNNPACK) kernels.
 * Every convolution of the model passes through here: the layers' forward passes, and, through
 * KernelScope.conv2d, the stride phases of Conv2DBackpropInput (also Conv2DTranspose's forward pass).
 *
 * Measured inside a 64-row training step, one thread: 28x28x16 -> 16 9.7 -> 7.7 ms, the 16 -> 1
 * output layer 5.0 -> 1.1 ms (XNNPACK's 8-column tiles went 7/8 unused; here its vectors run along
 * the input channels), 14x14x16 -> 16 2.6 -> 1.8 ms.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withScope, type HeapBackend } from './scope.js';
import { heapOffset, simdChannelsFit, simdKernels } from './simd-module.js';

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Whether most output pixels of a row have all their taps inside the input row, four or more side by
 * side: those run in the kernel's 4-pixel tiles, the rest one at a time (W's vectors loaded for one
 * pixel instead of four). Otherwise the input is padded first, so that every pixel is inside: on
 * 4x4 images, where every pixel touches the padding, the kernel took 4.3-4.5 ms one pixel at a time
 * (4x4x64 -> 64 at 64 rows), XNNPACK 3.3, the padded copy and the kernel together ~2.8.
 */
function mostlyInterior(info: tf.backend_util.Conv2DInfo): boolean {
  const first = Math.ceil(info.padInfo.left / info.strideWidth);
  const end = Math.min(info.outWidth, Math.floor((info.inWidth - info.filterWidth + info.padInfo.left) / info.strideWidth) + 1);
  const interior = end - first;
  return interior >= 4 && 2 * interior >= info.outWidth;
}

/**
 * Padding after the input so that the output's last row and column read exactly up to the padded
 * edge; negative where rows or columns of the input are read by no output ('valid' with a remainder).
 */
export function paddingAfter(info: tf.backend_util.Conv2DInfo): { bottom: number; right: number } {
  return {
    bottom: (info.outHeight - 1) * info.strideHeight + info.filterHeight - info.inHeight - info.padInfo.top,
    right: (info.outWidth - 1) * info.strideWidth + info.filterWidth - info.inWidth - info.padInfo.left,
  };
}

/** x (*) filter (+ bias) in SIMD, or null where the SIMD kernel does not apply. */
function simdConv2d(backend: unknown, x: tf.TensorInfo, filter: tf.TensorInfo, bias: tf.TensorInfo | undefined, attrs: ConvAttrs): tf.TensorInfo | null {
  if (attrs.dataFormat === 'NCHW' || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || !simdChannelsFit(info.inChannels, info.outChannels)) return null;
  if (info.outWidth < 4) return null; // no 4-pixel tile at all: XNNPACK's
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== info.outChannels)) return null;
  const simd = simdKernels(backend);
  if (!simd) return null;
  return withScope(backend, (scope) => {
    let input = x;
    let { inHeight, inWidth } = info;
    let { top, left } = info.padInfo;
    if (!mostlyInterior(info)) {
      // Zeros around the input: every output pixel's taps then lie inside it. Rows and columns
      // past the last tap ('valid' with a remainder) are left unpadded, and unread.
      const after = paddingAfter(info);
      const bottom = Math.max(0, after.bottom);
      const right = Math.max(0, after.right);
      input = scope.run('PadV2', { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 });
      inHeight += top + bottom;
      inWidth += left + right;
      top = 0;
      left = 0;
    }
    const out = (backend as HeapBackend).makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    simd.conv2d(
      heapOffset(backend, input), heapOffset(backend, filter), bias ? heapOffset(backend, bias) : 0, heapOffset(backend, out),
      info.batchSize, inHeight, inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
      info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, top, left,
    );
    return out;
  });
}

/** The stock wasm kernel `name` on the same arguments. */
function stock(name: string, args: KernelArgs): tf.TensorInfo {
  return withScope(args.backend, (scope) => scope.run(name, args.inputs as Record<string, tf.TensorInfo>, args.attrs));
}

export function conv2D(args: KernelArgs): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  return simdConv2d(args.backend, x, filter, undefined, args.attrs as unknown as ConvAttrs) ?? stock('Conv2D', args);
}

// FusedConv2D's activations that wasm also has as kernels of their own, applied after the SIMD conv.
const ACTIVATION_KERNELS: Readonly<Record<string, string>> = { relu: 'Relu', relu6: 'Relu6', sigmoid: 'Sigmoid', elu: 'Elu' };

export function fusedConv2D(args: KernelArgs): tf.TensorInfo {
  const { x, filter, bias, preluActivationWeights } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  const activation = (args.attrs?.['activation'] as string | undefined) ?? 'linear';
  const activationKernel = ACTIVATION_KERNELS[activation];
  if (preluActivationWeights || (activation !== 'linear' && !activationKernel)) return stock('FusedConv2D', args);
  const out = simdConv2d(args.backend, x, filter, bias, args.attrs as unknown as ConvAttrs);
  if (!out) return stock('FusedConv2D', args);
  if (!activationKernel) return out;
  return withScope(args.backend, (scope) => scope.run(activationKernel, { x: scope.adopt(out) }));
}
