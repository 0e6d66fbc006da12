/**
 * The notebook's conditional VAE, layer for layer, with tfjs-layers' functional API.
 * Keras semantics: tfjs uses TF 'same' padding (the extra row/column at the bottom/right) and
 * BatchNormalization momentum 0.99 / epsilon 1e-3, and ships 'swish' (x * sigmoid(x)) as a registered,
 * serialisable activation. One difference we must undo: tfjs-layers initialises Conv and Dense kernels
 * Glorot-*normal* by default, Keras Glorot-*uniform*, so every kernel names its initializer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { tensor, type Tensor } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES, oneHot, PIXELS, type MnistSet } from './data.js';
import type { Rng } from './rng.js';
import { syncBatchNorm, type BatchReducer } from './batchnorm-sync.js';
import { convOfData, isPlainConv } from './data-conv.js';
import { installSwish } from './swish.js';

// Every model here is built or loaded through this module: its swish layers get the closed-form gradient.
installSwish();

/** The architecture's free parameters; saved in every checkpoint and read first on load. */
export interface ModelConfig {
  readonly latentDim: number;
  readonly imageSize: number;
  readonly numClasses: number;
}

/** The notebook: 16 latent dimensions, 28x28 images, 10 digits. */
export const DEFAULT_MODEL_CONFIG: ModelConfig = { latentDim: 16, imageSize: IMAGE_SIZE, numClasses: NUM_CLASSES };

/** The encoder and decoder of one conditional VAE. */
export interface Cvae {
  /** [image [b,28,28,1], one-hot [b,10]] -> [z_mean [b,16], z_log_var [b,16]] */
  readonly encoder: tfl.LayersModel;
  /** [z [b,16], one-hot [b,10]] -> image [b,28,28,1] in (0, 1) */
  readonly decoder: tfl.LayersModel;
}

/** The names of the models' data inputs (the image and the one-hot digit). */
const IMAGE_INPUT = 'image';
const LABEL_INPUT = 'label';

/** Keras' default; tfjs-layers would otherwise use glorotNormal. */
const KERNEL_INIT = 'glorotUniform';

type Sym = tfl.SymbolicTensor;
const sym = (x: ReturnType<tfl.layers.Layer['apply']>): Sym => x as Sym;

function conv(name: string, filters: number, options: { strides?: number; padding?: 'same' | 'valid'; activation?: 'swish' | 'sigmoid' } = {}): tfl.layers.Layer {
  return tfl.layers.conv2d({
    name,
    filters,
    kernelSize: 3,
    strides: options.strides ?? 1,
    padding: options.padding ?? 'same',
    kernelInitializer: KERNEL_INIT,
    ...(options.activation ? { activation: options.activation } : {}),
  });
}

function convT(name: string, filters: number): tfl.layers.Layer {
  return tfl.layers.conv2dTranspose({ name, filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'swish', kernelInitializer: KERNEL_INIT });
}

/** The notebook's encoder. The label is broadcast to every pixel and stacked onto the image as 10 extra channels. */
export function buildEncoder(config: ModelConfig = DEFAULT_MODEL_CONFIG): tfl.LayersModel {
  const side = config.imageSize;
  const image = tfl.input({ shape: [side, side, 1], name: IMAGE_INPUT });
  const label = tfl.input({ shape: [config.numClasses], name: LABEL_INPUT });
  // The notebook's two expand_dims Lambdas + UpSampling2D((28, 28)): [b,10] -> [b,1,1,10] -> [b,28,28,10].
  let c = sym(tfl.layers.reshape({ name: 'enc_label_1x1', targetShape: [1, 1, config.numClasses] }).apply(label));
  c = sym(tfl.layers.upSampling2d({ name: 'enc_label_broadcast', size: [side, side], interpolation: 'nearest' }).apply(c));
  let y = sym(tfl.layers.concatenate({ name: 'enc_concat' }).apply([image, c])); // [b,28,28,11]
  y = sym(conv('enc_conv1', 16, { strides: 2 }).apply(y)); // [b,14,14,16]
  y = sym(tfl.layers.batchNormalization({ name: 'enc_bn', momentum: 0.99, epsilon: 1e-3 }).apply(y));
  y = sym(tfl.layers.activation({ name: 'enc_bn_swish', activation: 'swish' }).apply(y));
  y = sym(conv('enc_conv2', 16, { activation: 'swish' }).apply(y)); // [b,14,14,16]
  y = sym(conv('enc_conv3', 32, { strides: 2, activation: 'swish' }).apply(y)); // [b,7,7,32]
  y = sym(conv('enc_conv4', 32, { activation: 'swish' }).apply(y)); // [b,7,7,32]
  y = sym(conv('enc_conv5', 64, { strides: 2, activation: 'swish' }).apply(y)); // [b,4,4,64]
  y = sym(conv('enc_conv6', 64, { activation: 'swish' }).apply(y)); // [b,4,4,64]
  y = sym(tfl.layers.flatten({ name: 'enc_flatten' }).apply(y)); // [b,1024]
  y = sym(tfl.layers.dense({ name: 'enc_dense', units: 64, activation: 'swish', kernelInitializer: KERNEL_INIT }).apply(y));
  const zMean = sym(tfl.layers.dense({ name: 'z_mean', units: config.latentDim, kernelInitializer: KERNEL_INIT }).apply(y));
  const zLogVar = sym(tfl.layers.dense({ name: 'z_log_var', units: config.latentDim, kernelInitializer: KERNEL_INIT }).apply(y));
  return tfl.model({ name: 'encoder', inputs: [image, label], outputs: [zMean, zLogVar] });
}

/** The notebook's decoder (its unused Dense(128) branch is left out, as Keras prunes it from the graph). */
export function buildDecoder(config: ModelConfig = DEFAULT_MODEL_CONFIG): tfl.LayersModel {
  const z = tfl.input({ shape: [config.latentDim], name: 'z' });
  const label = tfl.input({ shape: [config.numClasses], name: LABEL_INPUT });
  let y = sym(tfl.layers.concatenate({ name: 'dec_concat' }).apply([z, label])); // [b,26]
  y = sym(tfl.layers.dense({ name: 'dec_dense', units: 1024, activation: 'swish', kernelInitializer: KERNEL_INIT }).apply(y));
  y = sym(tfl.layers.reshape({ name: 'dec_reshape', targetShape: [4, 4, 64] }).apply(y));
  y = sym(conv('dec_conv1', 64, { activation: 'swish' }).apply(y)); // [b,4,4,64]
  y = sym(convT('dec_convT1', 32).apply(y)); // [b,8,8,32]
  y = sym(conv('dec_conv2', 32, { activation: 'swish' }).apply(y)); // [b,8,8,32]
  y = sym(convT('dec_convT2', 16).apply(y)); // [b,16,16,16]
  y = sym(conv('dec_conv3', 16, { padding: 'valid', activation: 'swish' }).apply(y)); // [b,14,14,16]
  y = sym(convT('dec_convT3', 16).apply(y)); // [b,28,28,16]
  y = sym(conv('dec_conv4', 16).apply(y)); // [b,28,28,16], linear: BatchNorm and swish follow
  y = sym(tfl.layers.batchNormalization({ name: 'dec_bn', momentum: 0.99, epsilon: 1e-3 }).apply(y));
  y = sym(tfl.layers.activation({ name: 'dec_bn_swish', activation: 'swish' }).apply(y));
  const image = sym(conv('dec_out', 1, { activation: 'sigmoid' }).apply(y)); // [b,28,28,1]
  return tfl.model({ name: 'decoder', inputs: [z, label], outputs: image });
}

/** A freshly initialised encoder + decoder. */
export function buildCvae(config: ModelConfig = DEFAULT_MODEL_CONFIG): Cvae {
  return { encoder: buildEncoder(config), decoder: buildDecoder(config) };
}

/** The two parts of a model, in the order every flat weight layout uses (encoder, then decoder). */
export const CVAE_PARTS = ['encoder', 'decoder'] as const;

/**
 * The trainable variables, named `<part>/<layer>/<weight>`, in one fixed order: the order of
 * gradients, Adam's state, the optimizer file and the data-parallel buffers.
 */
export function trainableVariables(model: Cvae): Array<{ name: string; variable: tf.Variable }> {
  return CVAE_PARTS.flatMap((part) =>
    model[part].trainableWeights.map((w) => ({ name: `${part}/${w.originalName}`, variable: w.read() as tf.Variable })),
  );
}

/** Disposes both models' weights. */
export function disposeCvae(model: Cvae): void {
  model.encoder.dispose();
  model.decoder.dispose();
}

/**
 * Runs a functional model on concrete tensors with Keras' `training` flag passed to every layer.
 * tfjs-layers' `model.apply(x, {training: true})` drops the flag inside a functional model (each
 * node replays the call arguments recorded when the graph was built), so BatchNormalization would
 * silently use its moving statistics while training. Here each layer is applied in the model's own
 * topological order (`model.layers`) with `{training}`: BatchNorm then normalises with the batch
 * statistics and updates its moving mean / variance, as Keras does inside `fit`.
 * With `batchNorm`, training-mode BatchNorm takes its statistics over the whole batch that the
 * reducer spans (see batchnorm-sync.ts), the trainer's path on one thread or many.
 */
export function runModel(model: tfl.LayersModel, inputs: readonly Tensor[], training: boolean, batchNorm?: BatchReducer): Tensor[] {
  const values = traverse(model, inputs, training, undefined, batchNorm);
  return model.outputs.map((output) => values.get(output.id)!);
}

/** Examples `start` to `start + size` of `set` as the models' [image, label] inputs (labels one-hot, float32). */
export function modelInputs(set: MnistSet, start: number, size: number): [tf.Tensor4D, tf.Tensor2D] {
  const images = tf.tensor4d(set.images.subarray(start * PIXELS, (start + size) * PIXELS), [size, IMAGE_SIZE, IMAGE_SIZE, 1]);
  const labels = tf.tensor2d(oneHot(set.labels.subarray(start, start + size)), [size, NUM_CLASSES]);
  return [images, labels];
}

/** The reparameterisation trick: z = z_mean + exp(z_log_var / 2) * eps. */
export function sampleLatent(zMean: Tensor, zLogVar: Tensor, eps: Tensor): Tensor {
  return tf.add(zMean, tf.mul(tf.exp(tf.div(zLogVar, 2)), eps));
}

/** The tensor that flows into layer `name` of `model` in inference mode (the layer itself is not run). */
export function layerInput(model: tfl.LayersModel, inputs: readonly Tensor[], name: string): Tensor {
  const layer = model.getLayer(name);
  const values = traverse(model, inputs, false, layer);
  const node = layer.inboundNodes[0]!;
  if (node.inputTensors.length !== 1) throw new RangeError(`layerInput: layer ${name} has ${node.inputTensors.length} inputs`);
  return values.get(node.inputTensors[0]!.id)!;
}

/** The models' inputs that are data, never computed from weights: no gradient flows into them. */
const DATA_INPUTS: ReadonlySet<string> = new Set([IMAGE_INPUT, LABEL_INPUT]);

/** Applies the layers in topological order with `{training}`, up to (not including) `stopAt`; returns every value by symbolic id. */
function traverse(model: tfl.LayersModel, inputs: readonly Tensor[], training: boolean, stopAt?: tfl.layers.Layer, batchNorm?: BatchReducer): Map<number, Tensor> {
  const values = new Map<number, Tensor>();
  // Values computed from data alone (no weights on their way): a convolution of one needs no input gradient.
  const dataOnly = new Set<number>();
  model.inputs.forEach((input, i) => {
    const value = inputs[i];
    if (value === undefined) throw new RangeError(`${model.name} takes ${model.inputs.length} inputs, got ${inputs.length}`);
    values.set(input.id, value);
    if (DATA_INPUTS.has(input.sourceLayer.name)) dataOnly.add(input.id);
  });
  for (const layer of model.layers) {
    if (layer === stopAt) break;
    if (layer.getClassName() === 'InputLayer') continue;
    // Each layer of these models is called exactly once, so its only inbound node is this graph's.
    if (layer.inboundNodes.length !== 1) throw new RangeError(`layer ${layer.name} of ${model.name} is used in ${layer.inboundNodes.length} graphs; build a fresh model instead of sharing layers`);
    const node = layer.inboundNodes[0]!;
    const args = node.inputTensors.map((s) => values.get(s.id)!);
    const ofData = node.inputTensors.every((s) => dataOnly.has(s.id));
    const out =
      training && batchNorm && layer.getClassName() === 'BatchNormalization'
        ? syncBatchNorm(layer, args[0]!, batchNorm)
        : training && ofData && isPlainConv(layer)
          ? convOfData(layer, args[0] as tf.Tensor4D)
          : (layer.apply(args.length === 1 ? args[0]! : args, { training }) as Tensor | Tensor[]);
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((s, i) => values.set(s.id, outs[i]!));
    if (ofData && layer.weights.length === 0) node.outputTensors.forEach((s) => dataOnly.add(s.id));
  }
  return values;
}

/**
 * Re-draws every weight from `rng` with Keras' initial values (Glorot-uniform kernels, zero biases,
 * BatchNorm gamma 1 / beta 0 / moving mean 0 / moving variance 1), so that a seed fixes a whole run.
 * tfjs' own initializers draw from an unseeded global stream.
 */
export function seedWeights(model: Cvae, rng: Rng): void {
  for (const part of [model.encoder, model.decoder]) {
    for (const layer of part.layers) {
      const values = layer.weights.map((weight) => {
        const shape = weight.shape as number[];
        const size = shape.reduce((a, b) => a * b, 1);
        const name = weight.originalName;
        const data = new Float32Array(size);
        if (shape.length >= 2) {
          // Kernels: [in, out] (Dense) or [kh, kw, in, out] / [kh, kw, out, in] (Conv / ConvTranspose).
          const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
          const limit = Math.sqrt(6 / (receptive * (shape[shape.length - 2]! + shape[shape.length - 1]!)));
          for (let i = 0; i < size; i++) data[i] = (2 * rng.uniform() - 1) * limit;
        } else if (/(gamma|moving_variance)(_\d+)?$/.test(name)) {
          data.fill(1);
        }
        return tensor(data, shape);
      });
      if (values.length > 0) {
        layer.setWeights(values);
        values.forEach((v) => v.dispose());
      }
    }
  }
}
