import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { batchNormGradConfig, stockBatchNormGrad } from '../src/engine/wasm-kernels/batchnorm-grad.js';
import { cachedPhaseKernelCount } from '../src/engine/wasm-kernels/conv2d-backprop-input.js';
import { simdChannelsFit, simdKernels } from '../src/engine/wasm-kernels/simd-module.js';
import { CUSTOM_WASM_KERNELS, registerWasmKernels, useStockWasmKernels } from '../src/engine/wasm-kernels/index.js';
import { loadMnist, sliceBatch } from '../src/engine/data.js';
import { buildCvae, disposeCvae, seedWeights } from '../src/engine/model.js';
import { trainableVariables } from '../src/engine/model.js';
import { createRng, normals } from '../src/engine/rng.js';
import { createAdam } from '../src/engine/adam.js';
import { computeGradients } from '../src/engine/step.js';

type Pad = 'same' | 'valid';
interface ConvCase {
  readonly x: [number, number, number, number];
  readonly k: number;
  readonly outC: number;
  readonly stride: number;
  readonly pad: Pad;
}

// Shapes of the notebook's model plus odd sizes where TF 'same' padding is asymmetric and
// 'valid' leaves unread rows.
const CASES: readonly ConvCase[] = [
  { x: [3, 28, 28, 11], k: 3, outC: 16, stride: 2, pad: 'same' },
  { x: [2, 14, 14, 16], k: 3, outC: 16, stride: 1, pad: 'same' },
  { x: [4, 7, 7, 32], k: 3, outC: 64, stride: 2, pad: 'same' },
  { x: [2, 16, 16, 16], k: 3, outC: 16, stride: 1, pad: 'valid' },
  { x: [3, 9, 8, 5], k: 3, outC: 6, stride: 2, pad: 'valid' },
  { x: [2, 10, 11, 3], k: 3, outC: 4, stride: 2, pad: 'same' },
  { x: [1, 6, 6, 2], k: 1, outC: 3, stride: 1, pad: 'valid' },
  // One output channel: the SIMD filter gradient's vectors run along the input channels (16 at a
  // time, then 4); with 6 or 5 input channels, and with 2 output channels, it is XNNPACK's.
  { x: [2, 28, 28, 16], k: 3, outC: 1, stride: 1, pad: 'same' },
  { x: [2, 9, 10, 20], k: 3, outC: 1, stride: 1, pad: 'same' },
  { x: [2, 9, 7, 5], k: 3, outC: 2, stride: 1, pad: 'valid' },
  { x: [2, 7, 6, 6], k: 2, outC: 1, stride: 1, pad: 'same' },
  // The SIMD filter gradient's edges: input channels left over after tiles of 4 (3, 7), several
  // tiles of 8 output channels, a 5x5 kernel whose taps fall wholly outside small images, a 1x1 output.
  { x: [2, 8, 9, 3], k: 3, outC: 8, stride: 2, pad: 'same' },
  { x: [2, 11, 9, 7], k: 3, outC: 24, stride: 2, pad: 'valid' },
  { x: [2, 6, 7, 8], k: 5, outC: 16, stride: 1, pad: 'same' },
  { x: [3, 3, 3, 4], k: 3, outC: 8, stride: 2, pad: 'valid' },
];

function seeded(shape: number[], seed: number): Float32Array {
  // A small LCG: the same values on every backend, no dependence on tf.random.
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function maxAbsDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function outSize(n: number, k: number, s: number, pad: Pad): number {
  return pad === 'same' ? Math.ceil(n / s) : Math.ceil((n - k + 1) / s);
}

/** Runs `fn` on cpu and on wasm and returns both results as plain arrays. */
async function onBoth(fn: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const run = async (backend: 'cpu' | 'wasm') => {
    await initBackend(backend);
    const outs = tf.tidy(fn);
    const data = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(outs);
    return data;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return { cpu, wasm };
}

describe('wasm kernels', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('registers its kernels on wasm', () => {
    for (const name of ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Identity', 'BatchMatMul', '_FusedMatMul', 'Sum', 'Mean', 'Cast', 'Concat', 'Multiply']) {
      assert.ok(CUSTOM_WASM_KERNELS.includes(name));
      assert.ok(tf.getKernel(name, 'wasm'));
    }
    assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc.name, 'conv2DBackpropInput');
  });

  for (const [i, c] of CASES.entries()) {
    const [b, h, w, inC] = c.x;
    const oh = outSize(h, c.k, c.stride, c.pad);
    const ow = outSize(w, c.k, c.stride, c.pad);
    const label = `x ${c.x.join('x')}, ${c.k}x${c.k}x${c.outC}, stride ${c.stride}, ${c.pad}`;

    it(`Conv2DBackpropFilter matches cpu: ${label}`, async () => {
      const xv = seeded(c.x, 11 + i);
      const dyv = seeded([b, oh, ow, c.outC], 97 + i);
      const { cpu, wasm } = await onBoth(() => {
        const x = tf.tensor4d(xv, c.x);
        const dy = tf.tensor4d(dyv, [b, oh, ow, c.outC]);
        return [
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
            strides: [c.stride, c.stride],
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: undefined,
            filterShape: [c.k, c.k, inC, c.outC],
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      });
      assert.deepEqual(cpu[0]!.length, c.k * c.k * inC * c.outC);
      assert.ok(maxAbsDiff(cpu[0]!, wasm[0]!) < 1e-4, `max diff ${maxAbsDiff(cpu[0]!, wasm[0]!)}`);
    });

    it(`Conv2DBackpropInput matches cpu: ${label}`, async () => {
      const wv = seeded([c.k, c.k, inC, c.outC], 31 + i);
      const dyv = seeded([b, oh, ow, c.outC], 57 + i);
      const { cpu, wasm } = await onBoth(() => {
        const filter = tf.tensor4d(wv, [c.k, c.k, inC, c.outC]);
        const dy = tf.tensor4d(dyv, [b, oh, ow, c.outC]);
        return [
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
            strides: [c.stride, c.stride],
            pad: c.pad,
            dataFormat: 'NHWC',
            dimRoundingMode: undefined,
            inputShape: c.x,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      });
      assert.equal(cpu[0]!.length, b * h * w * inC);
      assert.ok(maxAbsDiff(cpu[0]!, wasm[0]!) < 1e-4, `max diff ${maxAbsDiff(cpu[0]!, wasm[0]!)}`);
    });

    // The layers' fused conv: bias, and an activation applied after the SIMD conv (or none).
    const activation = (['linear', 'sigmoid', 'relu'] as const)[i % 3]!;
    it(`conv2d and fused conv2d (bias, ${activation}) forward and gradients match cpu: ${label}`, async () => {
      const xv = seeded(c.x, 5 + i);
      const wv = seeded([c.k, c.k, inC, c.outC], 7 + i);
      const bv = seeded([c.outC], 9 + i);
      const rv = seeded([b, oh, ow, c.outC], 13 + i);
      const { cpu, wasm } = await onBoth(() => {
        const x = tf.tensor4d(xv, c.x);
        const f = tf.tensor4d(wv, [c.k, c.k, inC, c.outC]);
        const bias = tf.tensor1d(bv);
        const r = tf.tensor4d(rv, [b, oh, ow, c.outC]);
        const fused = (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) =>
          tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ff as tf.Tensor4D, bias: bb, strides: c.stride, pad: c.pad, activation });
        const loss = (xx: tf.Tensor, ff: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(fused(xx, ff, bb), r));
        const y = tf.conv2d(x, f, c.stride, c.pad);
        const [dx, df, db] = tf.grads(loss)([x, f, bias]);
        return [y, fused(x, f, bias), dx!, df!, db!];
      });
      for (let j = 0; j < 5; j++) {
        const d = maxAbsDiff(cpu[j]!, wasm[j]!);
        assert.ok(d < 1e-4, `${['conv2d', 'fused forward', 'dx', 'dw', 'dbias'][j]} max diff ${d}`);
      }
    });
  }

  it('conv2d with explicit padding wider than the kernel (whole output rows and columns of bias only) matches cpu', async () => {
    const shape: [number, number, number, number] = [2, 3, 12, 4];
    const xv = seeded(shape, 71);
    const wv = seeded([3, 3, 4, 8], 72);
    const bv = seeded([8], 73);
    const pad: tf.backend_util.ExplicitPadding = [[0, 0], [5, 4], [5, 5], [0, 0]];
    const { cpu, wasm } = await onBoth(() => {
      const x = tf.tensor4d(xv, shape);
      const f = tf.tensor4d(wv, [3, 3, 4, 8]);
      return [tf.fused.conv2d({ x, filter: f, bias: tf.tensor1d(bv), strides: 1, pad })];
    });
    assert.equal(cpu[0]!.length, 2 * 10 * 20 * 8);
    assert.ok(maxAbsDiff(cpu[0]!, wasm[0]!) < 1e-4, `max diff ${maxAbsDiff(cpu[0]!, wasm[0]!)}`);
  });

  // Conv2DTranspose runs Conv2DBackpropInput forward; its gradients are conv2d and Conv2DBackpropFilter.
  const TRANSPOSED: readonly { x: [number, number, number, number]; outC: number; pad: Pad }[] = [
    { x: [3, 4, 4, 64], outC: 32, pad: 'same' },
    { x: [2, 8, 8, 32], outC: 16, pad: 'same' },
    { x: [2, 7, 7, 16], outC: 16, pad: 'same' },
    { x: [2, 5, 6, 4], outC: 3, pad: 'valid' },
  ];
  for (const [i, t] of TRANSPOSED.entries()) {
    it(`conv2dTranspose (stride 2) forward and gradients match cpu: x ${t.x.join('x')} -> ${t.outC}, ${t.pad}`, async () => {
      const [b, h, w, inC] = t.x;
      const oh = t.pad === 'same' ? 2 * h : 2 * h + 1;
      const ow = t.pad === 'same' ? 2 * w : 2 * w + 1;
      const xv = seeded(t.x, 200 + i);
      const wv = seeded([3, 3, t.outC, inC], 300 + i);
      const rv = seeded([b, oh, ow, t.outC], 400 + i);
      const { cpu, wasm } = await onBoth(() => {
        const x = tf.tensor4d(xv, t.x);
        const f = tf.tensor4d(wv, [3, 3, t.outC, inC]);
        const r = tf.tensor4d(rv, [b, oh, ow, t.outC]);
        const up = (xx: tf.Tensor, ff: tf.Tensor) => tf.conv2dTranspose(xx as tf.Tensor4D, ff as tf.Tensor4D, [b, oh, ow, t.outC], 2, t.pad);
        const [dx, df] = tf.grads((xx: tf.Tensor, ff: tf.Tensor) => tf.sum(tf.mul(up(xx, ff), r)))([x, f]);
        return [up(x, f), dx!, df!];
      });
      for (let j = 0; j < 3; j++) {
        const d = maxAbsDiff(cpu[j]!, wasm[j]!);
        assert.ok(d < 1e-4, `${['forward', 'dx', 'dw'][j]} max diff ${d}`);
      }
    });
  }

  it("the Tile-free BatchNorm gradient equals tfjs-core's (training mode: moments of the batch)", async () => {
    const shape: [number, number, number, number] = [3, 5, 4, 6];
    const xv = seeded(shape, 1);
    const rv = seeded(shape, 2);
    const sv = seeded([6], 3).map((v) => v + 1);
    const ov = seeded([6], 4);
    const stock = stockBatchNormGrad();
    assert.ok(stock, 'the stock gradient was captured');
    const grads = () => {
      const x = tf.tensor4d(xv, shape);
      const r = tf.tensor4d(rv, shape);
      const f = (xx: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) => {
        const { mean, variance } = tf.moments(xx, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(xx, mean, variance, offset, scale, 1e-3), r));
      };
      return tf.grads(f)([x, tf.tensor1d(sv), tf.tensor1d(ov)]);
    };
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      tf.registerGradient(stock);
      const expected = await Promise.all(tf.tidy(grads).map((t) => t.data()));
      tf.registerGradient(batchNormGradConfig);
      const actual = await Promise.all(tf.tidy(grads).map((t) => t.data()));
      for (let j = 0; j < 3; j++) {
        const d = maxAbsDiff(expected[j]!, actual[j]!);
        assert.ok(d < 1e-4, `${backend} ${['dx', 'dscale', 'doffset'][j]} max diff ${d}`);
      }
    }
    assert.equal(tf.getGradient('FusedBatchNorm'), batchNormGradConfig);
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matMul (transposeA ${ta}, transposeB ${tb}), batched and fused with bias + activation, and its gradients match cpu`, async () => {
      const av = seeded([2, 6, 5], 71);
      const bv = seeded([2, 5, 7], 72);
      const biasv = seeded([7], 73);
      const { cpu, wasm } = await onBoth(() => {
        const a = tf.tensor3d(av, ta ? [2, 5, 6] : [2, 6, 5]);
        const b = tf.tensor3d(bv, tb ? [2, 7, 5] : [2, 5, 7]);
        const a2 = tf.tensor2d(seeded([6, 5], 75), ta ? [5, 6] : [6, 5]);
        const b2 = tf.tensor2d(seeded([5, 7], 74), tb ? [7, 5] : [5, 7]);
        const bias = tf.tensor1d(biasv);
        const plain = tf.matMul(a, b, ta, tb);
        const fused = tf.fused.matMul({ a: a2, b: b2, transposeA: ta, transposeB: tb, bias, activation: 'relu' });
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sigmoid(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, ta, tb))))([a, b]);
        return [plain, fused, da!, db!];
      });
      for (let j = 0; j < 4; j++) {
        const d = maxAbsDiff(cpu[j]!, wasm[j]!);
        assert.ok(d < 1e-4, `${['matMul', 'fused', 'da', 'db'][j]} max diff ${d}`);
      }
    });
  }

  it('Sum and Mean match cpu: over all axes but the last (large and small), keepDims, other axes', async () => {
    const big: [number, number, number, number] = [16, 28, 28, 16];
    const small: [number, number, number, number] = [2, 3, 4, 5];
    const bv = seeded(big, 81);
    const sv = seeded(small, 82);
    const { cpu, wasm } = await onBoth(() => {
      const b = tf.tensor4d(bv, big);
      const s = tf.tensor4d(sv, small);
      return [
        tf.sum(b, [0, 1, 2]),
        tf.mean(b, [0, 1, 2]),
        tf.sum(b, [2, 0, 1], true),
        tf.mean(tf.reshape(b, [16 * 784, 16]), 0, true),
        tf.sum(s, [0, 1, 2]),
        tf.mean(b, [1, 2]),
        tf.sum(b, -1),
        tf.sum(b),
        // The gradient of a reduction broadcasts back: checks the shapes the kernels report.
        tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.mean(t, [0, 1, 2]))))(b),
      ];
    });
    cpu.forEach((c, i) => {
      const scale = c.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      const d = maxAbsDiff(c, wasm[i]!);
      assert.ok(d <= 1e-5 * scale, `case ${i}: max diff ${d}`);
    });
  });

  it('Sum and Mean over a BatchNorm-sized input whose mean is large next to its spread stay within a few float32 roundings of a float64 sum', async () => {
    // [128, 28, 28, 16], the decoder BatchNorm's input in a training step, values 2 +- 0.35: what a
    // drifted bias before a BatchNorm gives. A running float32 sum over all 100,352 rows was off by
    // ~5e-6 of the sum here, with the same sign every step; that error was a bias's whole gradient.
    const shape: [number, number, number, number] = [128, 28, 28, 16];
    const values = Float32Array.from(seeded(shape, 7), (u) => 2 + 1.2 * u);
    const channels = shape[3];
    const exact = new Float64Array(channels);
    for (let i = 0; i < values.length; i++) exact[i % channels]! += values[i]!;
    await initBackend('wasm');
    const [sum, mean] = tf.tidy(() => {
      const x = tf.tensor4d(values, shape);
      return [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2])];
    });
    const [s, m] = [sum!.dataSync(), mean!.dataSync()];
    tf.dispose([sum!, mean!]);
    const n = values.length / channels;
    for (let c = 0; c < channels; c++) {
      assert.ok(Math.abs(s[c]! - exact[c]!) <= 1e-6 * Math.abs(exact[c]!), `channel ${c}: sum ${s[c]} vs ${exact[c]}`);
      assert.ok(Math.abs(m[c]! - exact[c]! / n) <= 1e-6 * Math.abs(exact[c]! / n), `channel ${c}: mean ${m[c]} vs ${exact[c]! / n}`);
    }
  });

  it('Concat, Cast and Multiply match cpu (narrow last-axis rows, and the cases left to the stock kernels)', async () => {
    const a = seeded([3, 5, 4, 1], 91);
    const b = seeded([3, 5, 4, 10], 92);
    const c = seeded([3, 5, 4, 3], 93);
    const wide = seeded([2, 100], 94);
    const { cpu, wasm } = await onBoth(() => {
      const ta = tf.tensor4d(a, [3, 5, 4, 1]);
      const tb = tf.tensor4d(b, [3, 5, 4, 10]);
      const tc = tf.tensor4d(c, [3, 5, 4, 3]);
      const tw = tf.tensor2d(wide, [2, 100]);
      const ints = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
      return [
        tf.concat([ta, tb], 3),
        tf.concat([tb, ta, tc], -1),
        tf.concat([tf.reshape(ta, [60, 1]), tf.reshape(tc, [60, 3])], 1),
        tf.concat([tw, tw], 1),
        tf.concat([ta, ta], 0),
        tf.cast(tf.concat([ints, ints], 1), 'float32'),
        tf.cast(tb, 'float32'),
        tf.cast(tf.greater(tb, 0), 'float32'),
        tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.concat([t, tb], 3))))(ta),
        // Multiply: by a scalar 1 on either side (returns the other operand), by other scalars, broadcast.
        tf.mul(tb, 1),
        tf.mul(tf.scalar(1), tb),
        tf.mul(tb, 2),
        tf.mul(tb, tf.ones([10])),
        tf.mul(tf.scalar(1), tf.scalar(NaN)),
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(tf.mul(t, 1)), t)))(tb),
      ];
    });
    cpu.forEach((x, i) => {
      const d = maxAbsDiff(x, wasm[i]!);
      assert.ok(d === 0 || (i === 13 && Number.isNaN(d)) || (i === 14 && d < 1e-6), `case ${i}: ${d}`);
    });
    assert.ok(Number.isNaN(wasm[13]![0]!));
  });

  it('Identity shares the buffer safely: clone and original stay valid when either is disposed', async () => {
    await initBackend('wasm');
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    a.dispose();
    assert.deepEqual(Array.from(await b.data()), [1, 2, 3]);
    const c = tf.clone(b);
    c.dispose();
    assert.deepEqual(Array.from(await b.data()), [1, 2, 3]);
    b.dispose();
  });

  it('the SIMD kernels take no empty channel axis (their inner loops run at least once)', () => {
    assert.equal(simdChannelsFit(0, 8), false);
    assert.equal(simdChannelsFit(16, 0), false);
    assert.equal(simdChannelsFit(3, 8), true);
    assert.equal(simdChannelsFit(6, 1), false);
  });

  it("every conv layer of the notebook's model takes the SIMD filter gradient (not XNNPACK's re-packing one)", async () => {
    await initBackend('wasm');
    assert.ok(simdKernels(tf.backend()), 'the SIMD kernels instantiate on the wasm backend');
    const model = buildCvae();
    try {
      const kernels = [model.encoder, model.decoder]
        .flatMap((m) => m.layers)
        .filter((l) => /conv/i.test(l.getClassName()))
        .map((l) => l.getWeights()[0]!.shape);
      assert.equal(kernels.length, 14); // 6 in the encoder, 8 in the decoder (3 of them Conv2DTranspose)
      // A Conv2DTranspose's filter gradient is also Conv2DBackpropFilter, with its kernel's shape.
      for (const [, , inC, outC] of kernels) assert.ok(simdChannelsFit(inC!, outC!), `kernel ${inC} -> ${outC}`);
    } finally {
      disposeCvae(model);
    }
  });

  it('caches the transposed-conv kernel per filter, and drops it once the filter is freed', async () => {
    await initBackend('wasm');
    const backend = tf.backend();
    const x = tf.tensor4d(seeded([2, 4, 4, 8], 1), [2, 4, 4, 8]);
    const up = (f: tf.Tensor4D) => tf.tidy(() => tf.conv2dTranspose(x, f, [2, 8, 8, 4], 2, 'same'));
    const filters = [0, 1, 2].map((i) => tf.tensor4d(seeded([3, 3, 4, 8], 10 + i), [3, 3, 4, 8]));
    const first = up(filters[0]!);
    const again = up(filters[0]!);
    assert.equal(maxAbsDiff(await first.data(), await again.data()), 0);
    const base = cachedPhaseKernelCount(backend);
    for (const f of filters.slice(1)) tf.dispose(up(f));
    assert.equal(cachedPhaseKernelCount(backend), base + 2);
    tf.dispose(filters);
    const last = tf.tensor4d(seeded([3, 3, 4, 8], 20), [3, 3, 4, 8]);
    tf.dispose(up(last));
    // The freed filters' kernels are gone; only the live filter's is cached.
    assert.equal(cachedPhaseKernelCount(backend), 1);
    tf.dispose([x, first, again, last]);
  });

  it("a few training steps of the notebook's model with these kernels follow the stock-kernel path", async () => {
    await initBackend('wasm');
    const data = await loadMnist('train', { limit: 64 });
    const run = async (fast: boolean) => {
      if (fast) registerWasmKernels();
      else useStockWasmKernels();
      const model = buildCvae();
      seedWeights(model, createRng(3, 'init'));
      const adam = createAdam(model, 1e-3);
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const batch = { ...sliceBatch(data, 16 * i, 16 * i + 16), eps: normals(16 * 16, createRng(3, 'eps', i)) };
        const { grads, metrics } = computeGradients(model, batch, 1e-4);
        adam.apply(grads);
        tf.dispose(grads);
        losses.push(metrics.loss);
      }
      // The biases of the convs that feed a BatchNorm have an exactly zero gradient in theory (BN
      // removes the mean); in float it is rounding noise, which Adam scales up to lr-sized steps on
      // either path, so they carry no signal and are left out.
      const compared = trainableVariables(model).filter((v) => !/(enc_conv1|dec_conv4)\/bias$/.test(v.name));
      const weights = await Promise.all(compared.map(async (v) => (await v.variable.data()) as Float32Array));
      disposeCvae(model);
      return { losses, weights };
    };
    try {
      const plain = await run(false);
      const fast = await run(true);
      plain.losses.forEach((l, i) => assert.ok(Math.abs(l - fast.losses[i]!) < 1e-4 * l, `step ${i}: ${l} vs ${fast.losses[i]}`));
      let d = 0;
      plain.weights.forEach((w, i) => (d = Math.max(d, maxAbsDiff(w, fast.weights[i]!))));
      // Four Adam steps of lr 1e-3 move weights by up to 4e-3; rounding differences stay ~1e-6.
      assert.ok(d < 2e-5, `weights differ by ${d}`);
    } finally {
      registerWasmKernels();
    }
  });

  it('leaves no tensors behind', async () => {
    await initBackend('wasm');
    const x = tf.tensor4d(seeded([2, 8, 8, 3], 1), [2, 8, 8, 3]);
    const f = tf.tensor4d(seeded([3, 3, 3, 4], 2), [3, 3, 3, 4]);
    const g = tf.grad((ff: tf.Tensor) => tf.sum(tf.conv2dTranspose(tf.conv2d(x, ff as tf.Tensor4D, 2, 'same'), ff as tf.Tensor4D, [2, 8, 8, 3], 2, 'same')));
    tf.dispose(g(f));
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    for (let i = 0; i < 5; i++) tf.dispose(g(f));
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(tf.memory().numBytes, bytes);
    tf.dispose([x, f]);
  });
});
