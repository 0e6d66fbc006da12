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

/** Keras' Adam over a fixed, ordered list of variables; its state can be snapshotted and restored for `--resume`. */
export class Adam {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  /** Updates applied so far (Keras `iterations`). */
  step = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(
    private readonly variables: ReadonlyArray<{ name: string; variable: tf.Variable }>,
    options: AdamOptions,
  ) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.m = variables.map(({ variable }) => tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
    this.v = variables.map(({ variable }) => tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
  }

  /** Applies gradients aligned with the variable list (the order of `trainableVariables`). Does not dispose them. */
  apply(grads: readonly tf.Tensor[]): void {
    if (grads.length !== this.variables.length) throw new RangeError(`Adam got ${grads.length} gradients for ${this.variables.length} variables`);
    const t = this.step + 1;
    const alpha = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    tf.tidy(() => {
      grads.forEach((g, i) => {
        const m = this.m[i]!;
        const v = this.v[i]!;
        const newM = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const newV = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(newM);
        v.assign(newV);
        const variable = this.variables[i]!.variable;
        variable.assign(tf.sub(variable, tf.mul(tf.div(newM, tf.add(tf.sqrt(newV), this.epsilon)), alpha)));
      });
    });
    this.step = t;
  }

  /** m, v and the step count as plain arrays. */
  async snapshot(): Promise<OptimizerSnapshot> {
    const m = await Promise.all(this.m.map(async (x) => (await x.data()) as Float32Array));
    const v = await Promise.all(this.v.map(async (x) => (await x.data()) as Float32Array));
    return { step: this.step, names: this.variables.map((x) => x.name), m, v };
  }

  /** Restores a snapshot taken from a model of the same architecture. */
  restore(snapshot: OptimizerSnapshot): void {
    if (snapshot.m.length !== this.m.length) throw new RangeError(`optimizer snapshot has ${snapshot.m.length} variables, expected ${this.m.length}`);
    tf.tidy(() => {
      snapshot.m.forEach((values, i) => this.m[i]!.assign(tf.tensor(values, this.m[i]!.shape)));
      snapshot.v.forEach((values, i) => this.v[i]!.assign(tf.tensor(values, this.v[i]!.shape)));
    });
    this.step = snapshot.step;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** The notebook's optimizer for `model`. */
export function createAdam(model: Cvae, learningRate: number): Adam {
  return new Adam(trainableVariables(model), { learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
}
