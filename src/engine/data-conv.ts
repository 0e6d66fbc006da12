/**
 * A Conv2D layer whose input is data only: the encoder's first convolution, which sees the image
 * and the broadcast label, neither of them trained. tfjs' fused conv2d computes its input's
 * gradient whether or not anything needs it (its gradient function returns dx, dW and db
 * together), so every training step paid for a Conv2DBackpropInput of the model's widest input
 * (2.7 ms of a 160 ms step on 64 rows, wasm) and threw it away. This is the layer's own forward
 * (the same fused kernel with the bias, so the same outputs) with gradients for the kernel and the
 * bias only; the input gets zeros.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

interface ConvConfig {
  readonly strides: number | [number, number];
  readonly padding: 'same' | 'valid';
  readonly activation: string;
  readonly dataFormat: string;
  readonly dilationRate: number | [number, number];
  readonly useBias: boolean;
}

/** True when `layer` is a Conv2D that `convOfData` computes exactly as the layer itself does. */
export function isPlainConv(layer: tfl.layers.Layer): boolean {
  if (layer.getClassName() !== 'Conv2D') return false;
  const config = layer.getConfig() as unknown as ConvConfig;
  return config.activation === 'linear' && config.useBias && config.dataFormat === 'channelsLast' && [config.dilationRate].flat().every((d) => d === 1);
}

/** `layer.apply(x)` for a layer `isPlainConv` accepts, with no gradient computed for `x`. */
export function convOfData(layer: tfl.layers.Layer, x: tf.Tensor4D): tf.Tensor4D {
  const config = layer.getConfig() as unknown as ConvConfig;
  const [sh, sw = sh] = [config.strides].flat() as [number, number?];
  const strides: [number, number] = [sh, sw];
  const [kernel, bias] = layer.trainableWeights.map((w) => w.read()) as [tf.Tensor4D, tf.Tensor1D];
  const conv = tf.customGrad((input, filter, offset, save) => {
    const value = tf.fused.conv2d({ x: input as tf.Tensor4D, filter: filter as tf.Tensor4D, bias: offset as tf.Tensor1D, strides, pad: config.padding, dataFormat: 'NHWC' });
    (save as tf.GradSaveFunc)([input as tf.Tensor4D]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const seen = saved[0]!;
        const dFilter = tf.engine().runKernel('Conv2DBackpropFilter', { x: seen, dy }, {
          strides,
          pad: config.padding,
          dataFormat: 'NHWC',
          dimRoundingMode: null,
          filterShape: kernel.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [tf.zerosLike(seen), dFilter, tf.sum(dy, [0, 1, 2])];
      },
    };
  });
  return conv(x, kernel, bias) as tf.Tensor4D;
}
