/**
 * A deterministic model for UI tests: draws the digit from a 3x5 bitmap font, shifted a
 * little per sample so a grid shows nine different tiles. No tfjs, instant.
 */
import type { CheckpointSummary, GenerateOptions, GrayImage } from '../src/engine/types.js';
import type { LatentOps, ReplModel } from '../src/explore/model.js';

const FONT: readonly string[] = [
  '111101101101111', // 0
  '010110010010111', // 1
  '111001111100111', // 2
  '111001111001111', // 3
  '101101111001001', // 4
  '111100111001111', // 5
  '111100111101111', // 6
  '111001010010010', // 7
  '111101111101111', // 8
  '111101111001111', // 9
];

/** One 28x28 tile of `digit`; `variant` shifts it by up to 3 pixels and varies its brightness. */
export function fakeDigit(digit: number, variant: number): GrayImage {
  const pixels = new Float32Array(28 * 28);
  const glyph = FONT[digit] ?? FONT[0]!;
  const dx = 6 + (variant % 3) * 2 - 2;
  const dy = 2 + Math.floor(variant / 3) % 3 * 2 - 2;
  const ink = 1 - (variant % 4) * 0.1;
  for (let gy = 0; gy < 5; gy++) {
    for (let gx = 0; gx < 3; gx++) {
      if (glyph[gy * 3 + gx] !== '1') continue;
      // Each font pixel is a 5x5 block: the glyph fills 15x25 of the tile.
      for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) pixels[(dy + 2 + gy * 5 + y) * 28 + dx + gx * 5 + x] = ink;
    }
  }
  return { width: 28, height: 28, pixels };
}

export interface FakeGeneratorCalls {
  digit: number;
  n: number;
  options: GenerateOptions | undefined;
}

/** Latent size of the fake model. */
export const FAKE_LATENT_DIM = 4;

/** Which fake variant (0-8) a latent code draws: its first value, folded. */
const variantOf = (z: ArrayLike<number>, at: number): number => Math.abs(Math.floor((z[at] ?? 0) * 3)) % 9;

/**
 * Fake latent operations: a code's first value picks the tile's variant, labels blend the glyphs of
 * their digits by weight, and a "reconstruction" is the same digit in another variant.
 */
function fakeLatent(hasGeometry = true): LatentOps & { decoded: number } {
  const latent = {
    latentDim: FAKE_LATENT_DIM,
    decoded: 0,
    // Style codes spread wide enough around the centre that rows draw different variants.
    geometry: !hasGeometry ? null : {
      dim: FAKE_LATENT_DIM,
      centre: Float64Array.from([1, 0, 0, 0]),
      digitMeans: Array.from({ length: 10 }, (_, d) => Float64Array.from([1, d, 0, 0])),
      within: Array.from({ length: FAKE_LATENT_DIM * FAKE_LATENT_DIM }, (_, i) => (i % (FAKE_LATENT_DIM + 1) === 0 ? 10 : 0)),
      aggregate: Array.from({ length: FAKE_LATENT_DIM * FAKE_LATENT_DIM }, (_, i) => (i % (FAKE_LATENT_DIM + 1) === 0 ? 10 : 0)),
    } as LatentOps['geometry'],
    drawLatents(digit: number, n: number, { scale, rng }: Parameters<LatentOps['drawLatents']>[2]): Float32Array {
      const z = new Float32Array(n * FAKE_LATENT_DIM);
      for (let i = 0; i < z.length; i++) z[i] = scale * rng.normal() + (i % FAKE_LATENT_DIM === 1 ? digit : 0);
      return z;
    },
    async decode(z: Float32Array, labels: Float32Array): Promise<GrayImage[]> {
      const n = labels.length / 10;
      latent.decoded += n;
      return Array.from({ length: n }, (_, i) => {
        const pixels = new Float32Array(28 * 28);
        for (let d = 0; d < 10; d++) {
          const w = labels[i * 10 + d]!;
          if (w === 0) continue;
          const glyph = fakeDigit(d, variantOf(z, i * FAKE_LATENT_DIM)).pixels;
          for (let p = 0; p < pixels.length; p++) pixels[p]! += w * glyph[p]!;
        }
        return { width: 28, height: 28, pixels };
      });
    },
    async reconstruct(n: number, rng: Parameters<LatentOps['reconstruct']>[1]) {
      const digits = Array.from({ length: n }, () => rng.int(10));
      return { originals: digits.map((d) => fakeDigit(d, 0)), reconstructions: digits.map((d) => fakeDigit(d, 4)), digits };
    },
  };
  return latent;
}

/** A fake model that records its calls; `delayMs` makes generation take time (to see the 'generating' phase). */
export function createFakeGenerator(options: { delayMs?: number; fail?: boolean; hasFittedPrior?: boolean } = {}): ReplModel & { calls: FakeGeneratorCalls[]; disposed: boolean; latent: LatentOps & { decoded: number } } {
  const checkpoint: CheckpointSummary = { dir: '/fake/checkpoint', epochsTrained: 30, trainSamples: 60000, backendTrainedOn: 'fake', hasFittedPrior: options.hasFittedPrior ?? true };
  const fake = {
    backend: 'cpu' as const,
    checkpoint,
    calls: [] as FakeGeneratorCalls[],
    disposed: false,
    latent: fakeLatent(options.hasFittedPrior ?? true),
    async generate(digit: number, n: number, generateOptions?: GenerateOptions): Promise<GrayImage[]> {
      fake.calls.push({ digit, n, options: generateOptions });
      if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      if (options.fail === true) throw new Error('the fake generator failed');
      return Array.from({ length: n }, (_, i) => fakeDigit(digit, i));
    },
    dispose(): void {
      fake.disposed = true;
    },
  };
  return fake;
}
