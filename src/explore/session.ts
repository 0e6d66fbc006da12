/**
 * The prompt's executor, shared by the Ink UI and line mode: a digit or a `:command` goes in,
 * pictures and messages come out. It holds the session's settings (grid, sampler, scale, seed),
 * the last digit (for `:walk`) and the last picture (for `:save`); it draws nothing on the screen.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SamplerName, GrayImage } from '../engine/types.js';
import { createRng, freshSeed, type Rng } from '../engine/rng.js';
import { writeFileAtomic } from '../engine/fs-atomic.js';
import { encodePng, tileGrid, upscale } from '../render/grid.js';
import { COMMAND_HELP, type PromptCommand, type SettingCommand } from '../prompt/commands.js';
import type { Picture, PictureName } from '../render/picture.js';
import type { ReplModel } from './model.js';
import { firstLine } from '../engine/errors.js';

/** Images per `:morph` and `:walk` strip. */
export const STRIP_STEPS = 10;
/** Test digits in `:recon`. */
export const RECON_COUNT = 10;
/** `:save` writes each image pixel as a block of this many pixels (nearest-neighbour, strokes stay crisp). */
export const SAVE_UPSCALE = 4;
/** Pixels between tiles and their gray level, as on the screen. */
const GAP = 2;
const GAP_SHADE = 0.3;

/** The settings a session draws with; `:seed`, `:scale`, `:sampler`, `:grid` change them. */
export interface SessionSettings {
  grid: number;
  sampler: SamplerName;
  scale: number;
  /** Undefined: fresh draws every time. */
  seed?: number;
}

export type { Picture, PictureName } from '../render/picture.js';

export type SessionOutput = { kind: 'picture'; picture: Picture } | { kind: 'message'; text: string } | { kind: 'error'; text: string };

/** What the session is asked to do: draw a digit, or run a command. */
export type SessionInput = { kind: 'digit'; digit: number } | { kind: 'command'; command: PromptCommand };

export type SettingKey = SettingCommand['key'];

export interface SessionOptions {
  model: ReplModel;
  settings: SessionSettings;
  /** Persists a changed setting (the entry point writes the settings file); `null` clears it. May throw. */
  saveSetting?(key: SettingKey, value: string | number | null): void;
  /** Where `:save` puts relative names; default process.cwd(). */
  cwd?: string;
  /** The clock for default file names. */
  now?(): Date;
}

export interface Session {
  /** The current settings (changed by the setting commands). */
  readonly settings: Readonly<SessionSettings>;
  /** The last picture shown, if any. */
  readonly lastPicture: Picture | undefined;
  /** One line for the status while `run(input)` works. */
  describe(input: SessionInput): string;
  /** Runs one input. Never rejects: failures come back as `error` outputs. */
  run(input: SessionInput): Promise<SessionOutput[]>;
}

const oneHotRows = (digits: readonly number[]): Float32Array => {
  const labels = new Float32Array(digits.length * 10);
  digits.forEach((d, i) => (labels[i * 10 + d] = 1));
  return labels;
};

/** Spherical interpolation between two codes (norm-preserving for N(0, I) draws; falls back to linear when they are parallel). */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / (Math.sqrt(na * nb) || 1))));
  const out = new Float32Array(a.length);
  if (Math.abs(Math.sin(omega)) < 1e-6) {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i]! + t * b[i]!;
    return out;
  }
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const wb = Math.sin(t * omega) / Math.sin(omega);
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i]! + wb * b[i]!;
  return out;
}

/** `cvae-style-20261124-231502.png` */
export function defaultSaveName(name: PictureName, at: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `cvae-${name}-${at.getFullYear()}${p(at.getMonth() + 1)}${p(at.getDate())}-${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}.png`;
}

/** The PNG `:save` writes: the tiles laid out as on the screen, upscaled nearest-neighbour. */
export function pictureToPng(picture: Picture): { png: Buffer; width: number; height: number } {
  const image = upscale(tileGrid(picture.tiles, { cols: picture.cols, pad: GAP, background: GAP_SHADE }), SAVE_UPSCALE);
  return { png: encodePng(image), width: image.width, height: image.height };
}


/** A session over a loaded model. */
export function createSession(options: SessionOptions): Session {
  const { model } = options;
  const settings: SessionSettings = { ...options.settings };
  let lastPicture: Picture | undefined;
  let lastDigit: number | undefined;
  // Draws since the seed was set: a seeded session replays the same pictures in the same order.
  let request = 0;
  // Without a seed, one stream: every draw is fresh.
  const stream = createRng(freshSeed());
  const fitted = (): boolean => settings.sampler === 'fitted' && model.checkpoint.hasFittedPrior;

  function nextRng(name: PictureName): Rng {
    const r = request++;
    return settings.seed === undefined ? stream : createRng(settings.seed, name, r);
  }

  function show(picture: Picture): SessionOutput[] {
    lastPicture = picture;
    return [{ kind: 'picture', picture }];
  }

  async function drawDigit(digit: number): Promise<SessionOutput[]> {
    // The seed of the n-th draw is seed + n, as `--seed` has always meant for digit prompts.
    const seed = settings.seed === undefined ? {} : { seed: settings.seed + request };
    request++;
    const tiles = await model.generate(digit, settings.grid * settings.grid, { sampler: settings.sampler, scale: settings.scale, ...seed });
    lastDigit = digit;
    return show({ name: 'grid', tiles, cols: settings.grid });
  }

  async function style(rows: number): Promise<SessionOutput[]> {
    const rng = nextRng('style');
    const { latentDim } = model.latent;
    const z = new Float32Array(rows * 10 * latentDim);
    for (let r = 0; r < rows; r++) {
      // With the fitted sampler each row's z comes from the density of a random digit (together: the
      // density of all codes); a z is one handwriting, decoded here with each of the ten labels.
      const code = model.latent.drawLatents(rng.int(10), 1, { sampler: settings.sampler, scale: settings.scale, rng });
      for (let d = 0; d < 10; d++) z.set(code, (r * 10 + d) * latentDim);
    }
    const digits = Array.from({ length: rows * 10 }, (_, i) => i % 10);
    const tiles = await model.latent.decode(z, oneHotRows(digits));
    const source = fitted() ? 'the fitted density of a random digit' : `N(0, ${settings.scale === 1 ? 'I' : `${settings.scale}^2 I`})`;
    return show({ name: 'style', tiles, cols: 10, caption: `style: one latent z per row (from ${source}), digits 0-9 left to right` });
  }

  async function morph(from: number, to: number): Promise<SessionOutput[]> {
    const rng = nextRng('morph');
    const { latentDim } = model.latent;
    const code = model.latent.drawLatents(from, 1, { sampler: settings.sampler, scale: settings.scale, rng });
    const z = new Float32Array(STRIP_STEPS * latentDim);
    const labels = new Float32Array(STRIP_STEPS * 10);
    for (let i = 0; i < STRIP_STEPS; i++) {
      const t = i / (STRIP_STEPS - 1);
      z.set(code, i * latentDim);
      // Blended one-hot labels; for A = B this is A ten times.
      labels[i * 10 + from] = 1 - t;
      labels[i * 10 + to] = (labels[i * 10 + to] ?? 0) + t;
    }
    const tiles = await model.latent.decode(z, labels);
    return show({ name: 'morph', tiles, cols: STRIP_STEPS, caption: `morph: one z, the label blended from ${from} to ${to} in ${STRIP_STEPS} steps` });
  }

  async function walk(digit: number | undefined): Promise<SessionOutput[]> {
    const target = digit ?? lastDigit;
    if (target === undefined) return [{ kind: 'error', text: ':walk needs a digit: type one first, or :walk 3' }];
    const rng = nextRng('walk');
    const { latentDim } = model.latent;
    const ends = model.latent.drawLatents(target, 2, { sampler: settings.sampler, scale: settings.scale, rng });
    const a = ends.subarray(0, latentDim);
    const b = ends.subarray(latentDim);
    // N(0, I) draws: slerp keeps the norm typical of a draw (a straight line would pass through
    // blurry low-norm codes). Fitted draws come from a mixture away from 0: a straight line.
    const spherical = !fitted();
    const z = new Float32Array(STRIP_STEPS * latentDim);
    for (let i = 0; i < STRIP_STEPS; i++) {
      const t = i / (STRIP_STEPS - 1);
      if (spherical) z.set(slerp(a, b, t), i * latentDim);
      else for (let j = 0; j < latentDim; j++) z[i * latentDim + j] = (1 - t) * a[j]! + t * b[j]!;
    }
    const tiles = await model.latent.decode(z, oneHotRows(new Array<number>(STRIP_STEPS).fill(target)));
    lastDigit = target;
    const how = spherical ? 'spherical interpolation between two N(0, I) draws' : 'straight line between two draws from its fitted density';
    return show({ name: 'walk', tiles, cols: STRIP_STEPS, caption: `walk: digit ${target}, ${STRIP_STEPS} steps through latent space (${how})` });
  }

  async function recon(): Promise<SessionOutput[]> {
    const rng = nextRng('recon');
    const { originals, reconstructions, digits } = await model.latent.reconstruct(RECON_COUNT, rng);
    return show({
      name: 'recon',
      tiles: [...originals, ...reconstructions],
      cols: originals.length,
      caption: `recon: top, ${originals.length} random MNIST test digits (${digits.join(' ')}); bottom, their reconstructions (z = encoder mean, true label)`,
    });
  }

  async function save(file: string | undefined): Promise<SessionOutput[]> {
    if (lastPicture === undefined) return [{ kind: 'error', text: 'nothing to save yet: draw a digit or run :style, :morph, :walk or :recon first' }];
    const cwd = options.cwd ?? process.cwd();
    const name = file ?? defaultSaveName(lastPicture.name, (options.now ?? (() => new Date()))());
    const target = path.resolve(cwd, /\.png$/i.test(name) ? name : `${name}.png`);
    const dir = path.dirname(target);
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (!isDir) return [{ kind: 'error', text: `cannot save to ${target}: ${dir} is not a directory` }];
    const { png, width, height } = pictureToPng(lastPicture);
    try {
      await writeFileAtomic(target, png);
    } catch (error) {
      return [{ kind: 'error', text: `cannot save to ${target}: ${firstLine(error)}` }];
    }
    return [{ kind: 'message', text: `saved the ${lastPicture.name} picture to ${target} (${width}x${height} px)` }];
  }

  function setting(command: SettingCommand): SessionOutput[] {
    const shown = (): string => {
      const value = settings[command.key];
      return `${command.key} = ${value === undefined ? 'off (fresh draws)' : String(value)}`;
    };
    if (command.value === undefined) return [{ kind: 'message', text: shown() }];
    if (command.key === 'seed') {
      if (command.value === null) delete settings.seed;
      else settings.seed = command.value;
      request = 0;
    } else if (command.key === 'scale') settings.scale = command.value;
    else if (command.key === 'sampler') settings.sampler = command.value;
    else settings.grid = command.value;
    const note = command.key === 'sampler' && command.value === 'fitted' && !model.checkpoint.hasFittedPrior ? '; this checkpoint has no fitted density, so draws use the prior' : '';
    if (options.saveSetting === undefined) return [{ kind: 'message', text: `${shown()}${note}` }];
    try {
      options.saveSetting(command.key, command.value);
    } catch (error) {
      return [{ kind: 'error', text: `${shown()} for this session, but the settings file was not written: ${firstLine(error)}` }];
    }
    return [{ kind: 'message', text: `${shown()} (saved)${note}` }];
  }

  function help(): SessionOutput[] {
    const width = Math.max(...COMMAND_HELP.map(([usage]) => usage.length));
    return COMMAND_HELP.map(([usage, what]) => ({ kind: 'message', text: `${usage.padEnd(width)}  ${what}` }));
  }

  return {
    get settings() {
      return settings;
    },
    get lastPicture() {
      return lastPicture;
    },
    describe(input) {
      if (input.kind === 'digit') return `drawing ${settings.grid * settings.grid} samples of ${input.digit}…`;
      switch (input.command.kind) {
        case 'style':
          return `drawing ${input.command.rows} style rows…`;
        case 'morph':
          return `morphing ${input.command.from} into ${input.command.to}…`;
        case 'walk':
          return 'walking through latent space…';
        case 'recon':
          return 'reconstructing test digits (the MNIST test set loads the first time)…';
        case 'save':
          return 'saving…';
        default:
          return 'working…';
      }
    },
    async run(input) {
      try {
        if (input.kind === 'digit') return await drawDigit(input.digit);
        const { command } = input;
        switch (command.kind) {
          case 'help':
            return help();
          case 'style':
            return await style(command.rows);
          case 'morph':
            return await morph(command.from, command.to);
          case 'walk':
            return await walk(command.digit);
          case 'recon':
            return await recon();
          case 'save':
            return await save(command.file);
          case 'setting':
            return setting(command);
        }
      } catch (error) {
        return [{ kind: 'error', text: firstLine(error) }];
      }
    },
  };
}
