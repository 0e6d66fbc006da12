/**
 * Keras' Adam, as the notebook compiles it: lr 5e-4, beta1 0.9, beta2 0.999, epsilon 1e-7 added to
 * sqrt(v) *before* bias correction of the step size (Keras' formula, which differs slightly from
 * tfjs' own optimizer):
 *   m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
 *   w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 */
import * as tf from '@tensorflow/tfjs-core';
import { trainableVariables, type Cvae } from './model.js';

/** Adam's state as plain arrays, aligned with the variable names (the optimizer file's layout). */
export interface OptimizerSnapshot {
  readonly step: number;
  readonly names: readonly string[];
  readonly m: readonly Float32Array[];
  readonly v: readonly Float32Array[];
}

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Keras' Adam over a fixed, ordered list of variables; its state can be snapshotted and restored for `--resume`.
 * The update runs in one loop over flat arrays (m, v, the weights, the gradient, in the variables'
 * order), not as a dozen tensor ops per variable: at this model's 40 variables the ops cost 6.4 ms
 * a step on wasm, almost all per-op overhead, on the data-parallel step's serial path.
 */
export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Updates applied so far (Keras `iterations`). */
  step = 0;
  /** Numbers in all the variables together: the length of every flat array `applyFlat` takes. */
  readonly size: number;
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  constructor(
    private readonly variables: ReadonlyArray<{ name: string; variable: tf.Variable }>,
    options: AdamOptions,
  ) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.size = variables.reduce((n, { variable }) => n + variable.size, 0);
    this.m = new Float32Array(this.size);
    this.v = new Float32Array(this.size);
  }

  /** Applies gradients aligned with the variable list (the order of `trainableVariables`). Does not dispose them. */
  apply(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.variables.length) throw new RangeError(`Adam got ${grads.length} gradients for ${this.variables.length} variables`);
    const grad = new Float32Array(this.size);
    const weights = new Float32Array(this.size);
    let offset = 0;
    grads.forEach((g, i) => {
      const variable = this.variables[i]!.variable;
      if (g.size !== variable.size) throw new RangeError(`Adam got a gradient of ${g.size} numbers for ${this.variables[i]!.name} (${variable.size})`);
      grad.set(g.dataSync() as Float32Array, offset);
      weights.set(variable.dataSync() as Float32Array, offset);
      offset += variable.size;
    });
    this.applyFlat(grad, weights);
  }

  /**
   * The same update from a flat gradient: `weights` holds the variables' current values, flat in the
   * same order; it is updated in place and the variables are assigned from it.
   */
  applyFlat(grad: Float32Array, weights: Float32Array): void {
    if (grad.length !== this.size || weights.length < this.size) throw new RangeError(`Adam takes ${this.size} numbers, got a gradient of ${grad.length} and ${weights.length} weights`);
    const t = this.step + 1;
    const alpha = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    const { beta1, beta2, epsilon, m, v } = this;
    for (let i = 0; i < this.size; i++) {
      const g = grad[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * g;
      const vi = beta2 * v[i]! + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      // The rounded m and v, as Keras' float32 state would hold them.
      weights[i] = weights[i]! - (alpha * m[i]!) / (Math.sqrt(v[i]!) + epsilon);
    }
    tf.tidy(() => {
      let offset = 0;
      for (const { variable } of this.variables) {
        // slice copies: a backend may keep the array it is given as the tensor's storage.
        variable.assign(tf.tensor(weights.slice(offset, offset + variable.size), variable.shape, 'float32'));
        offset += variable.size;
      }
    });
    this.step = t;
  }

  /** m, v and the step count as plain arrays, one per variable. */
  async snapshot(): Promise<OptimizerSnapshot> {
    return { step: this.step, names: this.variables.map((x) => x.name), m: this.perVariable(this.m), v: this.perVariable(this.v) };
  }

  /** Restores a snapshot taken from a model of the same architecture. */
  restore(snapshot: OptimizerSnapshot): void {
    if (snapshot.m.length !== this.variables.length || snapshot.v.length !== this.variables.length) {
      throw new RangeError(`optimizer snapshot has ${snapshot.m.length} variables, expected ${this.variables.length}`);
    }
    let offset = 0;
    this.variables.forEach(({ name, variable }, i) => {
      const [m, v] = [snapshot.m[i]!, snapshot.v[i]!];
      if (m.length !== variable.size || v.length !== variable.size) throw new RangeError(`optimizer snapshot holds ${m.length} numbers for ${name}, expected ${variable.size}`);
      this.m.set(m, offset);
      this.v.set(v, offset);
      offset += variable.size;
    });
    this.step = snapshot.step;
  }

  private perVariable(flat: Float32Array): Float32Array[] {
    let offset = 0;
    return this.variables.map(({ variable }) => {
      const part = flat.slice(offset, offset + variable.size);
      offset += variable.size;
      return part;
    });
  }
}

/** The notebook's optimizer for `model`. */
export function createAdam(model: Cvae, learningRate: number): Adam {
  return new Adam(trainableVariables(model), { learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
}
