/** A picture a front end draws: what the REPL answers a prompt with, before it becomes terminal bytes or a PNG. */
import type { GrayImage } from '../engine/types.js';

export type PictureName = 'grid' | 'style' | 'morph' | 'walk' | 'recon';

/** Tiles laid out row-major, `cols` per row; front ends render them for their terminal, `:save` as PNG. */
export interface Picture {
  readonly name: PictureName;
  readonly tiles: readonly GrayImage[];
  readonly cols: number;
  /** One line saying what the picture shows (none for a digit's grid, as in the notebook). */
  readonly caption?: string;
}
