/**
 * A deterministic DigitGenerator for UI tests: draws the digit from a 3x5 bitmap font, shifted a
 * little per sample so a grid shows nine different tiles. No tfjs, instant.
 */
import type { CheckpointSummary, DigitGenerator, GenerateOptions, GrayImage } from '../src/engine/types.js';

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

/** A fake generator that records its calls; `delayMs` makes generation take time (to see the 'generating' phase). */
export function createFakeGenerator(options: { delayMs?: number; fail?: boolean } = {}): DigitGenerator & { calls: FakeGeneratorCalls[]; disposed: boolean } {
  const checkpoint: CheckpointSummary = { dir: '/fake/checkpoint', epochsTrained: 30, trainSamples: 60000, backendTrainedOn: 'fake', hasFittedPrior: true };
  const fake = {
    backend: 'cpu' as const,
    checkpoint,
    calls: [] as FakeGeneratorCalls[],
    disposed: false,
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
