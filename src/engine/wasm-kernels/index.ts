/**
 * Kernels registered on the wasm backend, on top of (or instead of) the stock ones, so the
 * notebook's model trains on wasm. Each is tested against the cpu backend in test/wasm-kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2D, fusedConv2D } from './conv2d.js';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { conv2DBackpropInput } from './conv2d-backprop-input.js';
import { registerBatchNormGrad, stockBatchNormGrad } from './batchnorm-grad.js';
import { cast, concat, multiply } from './copy.js';
import { identity } from './identity.js';
import { batchMatMul, fusedMatMul } from './matmul.js';
import { mean, sum } from './reduce.js';
import { captureStock, stockKernel } from './scope.js';

interface CustomKernel {
  readonly name: string;
  readonly kernelFunc: tf.KernelFunc;
}

const KERNELS: readonly CustomKernel[] = [
  { name: 'Conv2D', kernelFunc: conv2D as unknown as tf.KernelFunc },
  { name: 'FusedConv2D', kernelFunc: fusedConv2D as unknown as tf.KernelFunc },
  { name: 'Conv2DBackpropFilter', kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc },
  { name: 'Conv2DBackpropInput', kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc },
  { name: 'Identity', kernelFunc: identity as unknown as tf.KernelFunc },
  { name: 'BatchMatMul', kernelFunc: batchMatMul as unknown as tf.KernelFunc },
  { name: '_FusedMatMul', kernelFunc: fusedMatMul as unknown as tf.KernelFunc },
  { name: 'Sum', kernelFunc: sum as unknown as tf.KernelFunc },
  { name: 'Mean', kernelFunc: mean as unknown as tf.KernelFunc },
  { name: 'Cast', kernelFunc: cast as unknown as tf.KernelFunc },
  { name: 'Concat', kernelFunc: concat as unknown as tf.KernelFunc },
  { name: 'Multiply', kernelFunc: multiply as unknown as tf.KernelFunc },
];

/** The kernel names this module registers on wasm. */
export const CUSTOM_WASM_KERNELS: readonly string[] = KERNELS.map((k) => k.name);

/** Registers the custom kernels on the wasm backend (and the Tile-free BatchNorm gradient). Idempotent. */
export function registerWasmKernels(): void {
  registerBatchNormGrad();
  for (const kernel of KERNELS) {
    const current = tf.getKernel(kernel.name, 'wasm');
    if (current?.kernelFunc === kernel.kernelFunc) continue;
    captureStock(kernel.name);
    if (current) tf.unregisterKernel(kernel.name, 'wasm');
    tf.registerKernel({ kernelName: kernel.name, backendName: 'wasm', kernelFunc: kernel.kernelFunc });
  }
}

/**
 * Puts back wasm's stock kernels and tfjs-core's BatchNorm gradient, keeping only
 * Conv2DBackpropFilter (which wasm lacks): the plain path that the fast one is checked against
 * (bench/curve.ts, tests). `registerWasmKernels` (or the next `initBackend('wasm')` switch) undoes it.
 */
export function useStockWasmKernels(): void {
  const grad = stockBatchNormGrad();
  if (grad) tf.registerGradient(grad);
  for (const kernel of KERNELS) {
    const original = stockKernel(kernel.name);
    if (!original) continue;
    tf.unregisterKernel(kernel.name, 'wasm');
    tf.registerKernel({ kernelName: kernel.name, backendName: 'wasm', kernelFunc: original });
  }
}
