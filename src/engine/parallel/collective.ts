/**
 * The all-reduce behind synchronised BatchNorm across threads: each part of a batch writes its
 * vector into its own slot of one SharedArrayBuffer, all parts meet at a barrier, and each sums the
 * slots in rank order (so every part gets bit-identical sums). The slots are double-buffered by the
 * barrier's generation, so one barrier per all-reduce is enough: a part can write the same half
 * again only two all-reduces later, after the next barrier, which every part reaches only once it
 * has read this one's sums. Blocking (Atomics.wait) is what lets it run inside a synchronous
 * forward or backward pass.
 *
 * A part that fails sets the abort flag, which wakes the others with an error instead of a hang;
 * a part that never arrives (a killed thread) times out.
 */
import { ParallelTrainingError } from './errors.js';
import type { BatchReducer } from '../batchnorm-sync.js';

const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;
const CONTROL_BYTES = 16;

/** How long a part waits at a barrier for the others before it gives up. */
const BARRIER_TIMEOUT_MS = 120_000;

/** Shared memory for `ranks` parts exchanging vectors of up to `width` numbers. */
export function collectiveBuffer(ranks: number, width: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + 2 * ranks * width * 8);
}

/** One part's view of the shared all-reduce. `parts` (the ranks holding rows this step) is set per step. */
export class SharedReducer implements BatchReducer {
  private readonly control: Int32Array;
  private readonly slots: Float64Array;
  private parts: number;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly rank: number,
    private readonly ranks: number,
    private readonly width: number,
  ) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.slots = new Float64Array(buffer, CONTROL_BYTES, 2 * ranks * width);
    this.parts = ranks;
  }

  /** The number of ranks (0 .. parts-1) that take part in the coming step. */
  forStep(parts: number): this {
    if (!(parts >= 1 && parts <= this.ranks && this.rank < parts)) throw new RangeError(`rank ${this.rank} cannot take part in a step of ${parts} parts`);
    this.parts = parts;
    return this;
  }

  allReduce(local: Float64Array): Float64Array {
    if (local.length > this.width) throw new RangeError(`all-reduce of ${local.length} numbers exceeds the buffer's ${this.width}`);
    if (this.parts === 1) return local;
    // The generation cannot move before this part arrives, so every part of this all-reduce reads the same one.
    const generation = Atomics.load(this.control, GENERATION);
    const half = (generation & 1) * this.ranks * this.width;
    this.slots.set(local, half + this.rank * this.width);
    this.barrier(generation);
    const total = new Float64Array(local.length);
    for (let r = 0; r < this.parts; r++) {
      const offset = half + r * this.width;
      for (let i = 0; i < total.length; i++) total[i]! += this.slots[offset + i]!;
    }
    return total;
  }

  /** Wakes every part waiting at a barrier with an error; later barriers fail at once. */
  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    Atomics.notify(this.control, GENERATION);
  }

  private barrier(generation: number): void {
    this.checkAbort();
    if (Atomics.add(this.control, COUNT, 1) === this.parts - 1) {
      Atomics.store(this.control, COUNT, 0);
      Atomics.add(this.control, GENERATION, 1);
      Atomics.notify(this.control, GENERATION);
      return;
    }
    const deadline = Date.now() + BARRIER_TIMEOUT_MS;
    while (Atomics.load(this.control, GENERATION) === generation) {
      this.checkAbort();
      const left = deadline - Date.now();
      if (left <= 0) {
        this.abort();
        throw new ParallelTrainingError(`a training thread did not reach the BatchNorm sync within ${BARRIER_TIMEOUT_MS / 1000} s; try --threads 1`);
      }
      Atomics.wait(this.control, GENERATION, generation, Math.min(left, 1000));
    }
  }

  private checkAbort(): void {
    if (Atomics.load(this.control, ABORT) !== 0) throw new ParallelTrainingError('another training thread failed during the step');
  }
}
