/**
 * BatchMatMul / _FusedMatMul with transposed operands. wasm's kernels are fast on plain row-major
 * operands but 10-30x slower with transposeA / transposeB (measured: x^T dy for the 1024x64 Dense
 * gradient, 29 ms vs 1.6 ms with an explicit transpose first), and every Dense gradient uses them.
 * So the operand is transposed explicitly (wasm's Transpose) and the stock kernel runs untransposed.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { withScope, type KernelScope } from './scope.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

function swapLastTwo(scope: KernelScope, t: tf.TensorInfo): tf.TensorInfo {
  const rank = t.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return scope.transpose(t, perm);
}

function untransposed(kernel: 'BatchMatMul' | '_FusedMatMul') {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
    const attrs = args.attrs as unknown as MatMulAttrs;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    return withScope(args.backend, (scope) => {
      const inputs: Record<string, tf.TensorInfo> = { ...(args.inputs as Record<string, tf.TensorInfo>) };
      if (attrs.transposeA) inputs['a'] = swapLastTwo(scope, a);
      if (attrs.transposeB) inputs['b'] = swapLastTwo(scope, b);
      return scope.run(kernel, inputs, { ...(args.attrs as tf.NamedAttrMap), transposeA: false, transposeB: false });
    });
  };
}

export const batchMatMul = untransposed('BatchMatMul');
export const fusedMatMul = untransposed('_FusedMatMul');
