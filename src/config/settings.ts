/**
 * The user's saved settings (conf): render mode, sampler, scale, grid size, the active checkpoint.
 * Flags override them for one run. A corrupt file is moved aside and reset, with a one-line warning.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Conf from 'conf';
import type { SamplerName } from '../engine/types.js';
import type { RenderChoice } from '../render/terminal.js';
import { checkGrid, checkRender, checkSampler, checkScale, checkSeed, type Checked } from './choices.js';
import { SHIPPED_CHECKPOINT, userConfigDir } from './paths.js';
import { firstLine } from '../engine/errors.js';

export interface Settings {
  render: RenderChoice;
  sampler: SamplerName;
  scale: number;
  grid: number;
  /** Reproducible draws (`:seed N` at the prompt); absent: fresh draws every time. */
  seed?: number;
  /** Absolute path of the checkpoint the app opens by default (set after training). */
  checkpoint?: string;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = { render: 'auto', sampler: 'fitted', scale: 1, grid: 3 };

export type SettingKey = keyof Settings;
export const SETTING_KEYS: readonly SettingKey[] = ['render', 'sampler', 'scale', 'grid', 'seed', 'checkpoint'];

/** A value that is not valid for a setting (from `config set` or a hand-edited file). */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Checks one value; returns the typed value or throws SettingsError saying what is allowed. */
export function validateSetting(key: string, value: unknown): Settings[SettingKey] {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const checked = (check: (value: string | number) => Checked<Settings[SettingKey]>) => {
    const result = typeof value === 'string' || typeof value === 'number' ? check(value) : check(Number.NaN);
    if (!result.ok) throw new SettingsError(`${key} must be ${result.expected} (got ${text})`);
    return result.value;
  };
  switch (key) {
    case 'render':
      return checked(checkRender);
    case 'sampler':
      return checked(checkSampler);
    case 'scale':
      return checked(checkScale);
    case 'grid':
      return checked(checkGrid);
    case 'seed':
      return checked(checkSeed);
    case 'checkpoint': {
      if (typeof value !== 'string' || value === '') throw new SettingsError(`checkpoint must be a directory path (got ${text})`);
      return path.resolve(value);
    }
    default:
      throw new SettingsError(`unknown setting ${key}; settings are ${SETTING_KEYS.join(', ')}`);
  }
}

/** Where settings live: a conf file, or memory when the settings directory cannot be used. */
interface SettingsBackend {
  readonly path: string;
  readonly store: Record<string, unknown>;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  clear(): void;
}

/**
 * The readable settings, when the settings directory is unusable (read-only, not a directory ...).
 * Every write fails with the directory's error, so `config set` and the like say nothing was saved.
 */
function readOnlyBackend(file: string, values: Record<string, unknown>, code: string): SettingsBackend {
  const refuse = (): never => {
    throw Object.assign(new Error(`cannot write ${file}`), { code });
  };
  return { path: file, store: values, set: refuse, delete: refuse, clear: refuse };
}

function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The settings file, read once and written atomically (conf writes a temp file, then renames). */
export class SettingsStore {
  readonly #conf: SettingsBackend;
  /** Warnings found while opening (corrupt file, invalid values); the entry point prints them. */
  readonly warnings: readonly string[];

  constructor(conf: SettingsBackend, warnings: readonly string[]) {
    this.#conf = conf;
    this.warnings = warnings;
  }

  /** Runs a write; a file-system failure (read-only, disk full) becomes a one-line SettingsError. */
  #write(change: () => void): void {
    try {
      change();
    } catch (error) {
      const code = errnoCode(error);
      if (code === undefined) throw error;
      throw new SettingsError(`cannot save settings to ${this.path} (${code}); set CVAE_REPL_CONFIG_DIR to a writable directory`);
    }
  }

  get path(): string {
    return this.#conf.path;
  }

  /** The saved settings, defaults filled in. */
  get(): Settings {
    const store = this.#conf.store;
    const settings: Settings = { ...DEFAULT_SETTINGS };
    for (const key of SETTING_KEYS) {
      const value = store[key];
      if (value === undefined) continue;
      try {
        Object.assign(settings, { [key]: validateSetting(key, value) });
      } catch {
        // Already reported as a warning when the store was opened.
      }
    }
    return settings;
  }

  /** Saves one setting, validated; `value` is what the user typed (`config set grid 4`). */
  set(key: string, value: unknown): Settings {
    const valid = validateSetting(key, value);
    this.#write(() => this.#conf.set(key, valid));
    return this.get();
  }

  /** Forgets one saved setting (its default applies again). */
  unset(key: SettingKey): Settings {
    this.#write(() => this.#conf.delete(key));
    return this.get();
  }

  /**
   * Makes `dir` the checkpoint the app opens by default. Never throws: it runs after training, which
   * must not fail for it; returns a warning when the settings could not be saved.
   */
  setActiveCheckpoint(dir: string): string | undefined {
    try {
      this.#write(() => this.#conf.set('checkpoint', path.resolve(dir)));
      return undefined;
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      return `warning: ${error.message}; pass --checkpoint ${path.resolve(dir)} to use it`;
    }
  }

  /** Restores the defaults (forgets the active checkpoint; the checkpoint files themselves stay). */
  reset(): void {
    this.#write(() => this.#conf.clear());
  }
}

export interface OpenSettingsOptions {
  /** Directory of the settings file; default: CVAE_REPL_CONFIG_DIR, else the user's config dir. */
  dir?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

const CONFIG_NAME = 'settings';

/** Opens the settings file. Never throws for a bad file: it is moved aside, reset, and reported in `warnings`. */
export function openSettings(options: OpenSettingsOptions = {}): SettingsStore {
  const env = options.env ?? process.env;
  const cwd = options.dir ?? userConfigDir(env);
  const confOptions = { projectName: 'cvae-repl', configName: CONFIG_NAME, cwd };
  const warnings: string[] = [];
  const file = path.join(cwd, `${CONFIG_NAME}.json`);
  let conf: SettingsBackend | undefined;
  try {
    conf = openConf(confOptions, file, warnings);
    return new SettingsStore(conf, sanitize(conf, warnings));
  } catch (error) {
    const code = errnoCode(error);
    if (code === undefined) throw error;
    // The directory cannot be created or written (read-only, a file in the way, disk full): run on
    // what could be read, for this run only, and say so once.
    let readable: Record<string, unknown> = {};
    try {
      readable = { ...(conf?.store ?? {}) };
    } catch {
      // Nothing readable: defaults.
    }
    const valid = Object.fromEntries(Object.entries(readable).filter(([key, value]) => isValidSetting(key, value)));
    warnings.push(`warning: cannot use the settings in ${cwd} (${code}); this run uses ${Object.keys(valid).length > 0 ? 'the readable values' : 'defaults'} and cannot save any; set CVAE_REPL_CONFIG_DIR to a writable directory`);
    return new SettingsStore(readOnlyBackend(file, valid, code), warnings);
  }
}

function isValidSetting(key: string, value: unknown): boolean {
  try {
    validateSetting(key, value);
    return true;
  } catch {
    return false;
  }
}

/** Opens the conf file; an unreadable one is moved aside (when possible) and replaced by defaults. */
function openConf(confOptions: { projectName: string; configName: string; cwd: string }, file: string, warnings: string[]): SettingsBackend {
  try {
    return new Conf<Record<string, unknown>>(confOptions);
  } catch (error) {
    // conf throws SyntaxError on unreadable JSON (and EISDIR & co. when the file is not a file).
    if (error instanceof Error && errnoCode(error) !== undefined && errnoCode(error) !== 'EISDIR') throw error;
    // Keep the bad file for the user, start fresh.
    const backup = `${file}.corrupt`;
    let kept = false;
    try {
      fs.renameSync(file, backup);
      kept = true;
    } catch {
      // Nothing to move, or a read-only directory: fall through to a fresh store.
    }
    const reason = firstLine(error);
    warnings.push(`warning: settings file ${file} was unreadable (${reason}); reset to defaults${kept ? `, old file kept as ${backup}` : ''}`);
    return new Conf<Record<string, unknown>>({ ...confOptions, clearInvalidConfig: true });
  }
}

/** Drops values that are not valid (a hand-edited file), one warning each; returns all warnings. */
function sanitize(conf: SettingsBackend, warnings: string[]): string[] {
  const store = conf.store;
  if (typeof store !== 'object' || store === null || Array.isArray(store)) {
    warnings.push(`warning: settings file ${conf.path} did not hold an object; reset to defaults`);
    conf.clear();
  } else {
    for (const [key, value] of Object.entries(store)) {
      try {
        validateSetting(key, value);
      } catch (error) {
        warnings.push(`warning: ${error instanceof Error ? error.message : String(error)} in ${conf.path}; using the default`);
        conf.delete(key);
      }
    }
  }
  return warnings;
}

function isCheckpointDir(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

export interface ResolvedCheckpoint {
  dir: string;
  /** Why this one: the flag, the active checkpoint from settings, or the shipped one. */
  source: 'flag' | 'active' | 'shipped';
  /** Set when the active checkpoint was missing and the shipped one is used instead. */
  warning?: string;
}

/** The checkpoint to open: --checkpoint, else the active one if it still exists, else the shipped one. */
export function resolveCheckpoint(flag: string | undefined, settings: Settings, exists: (dir: string) => boolean = isCheckpointDir): ResolvedCheckpoint {
  if (flag !== undefined) return { dir: path.resolve(flag), source: 'flag' };
  if (settings.checkpoint !== undefined) {
    if (exists(settings.checkpoint)) return { dir: settings.checkpoint, source: 'active' };
    return { dir: SHIPPED_CHECKPOINT, source: 'shipped', warning: `warning: active checkpoint ${settings.checkpoint} is missing; using the shipped one` };
  }
  return { dir: SHIPPED_CHECKPOINT, source: 'shipped' };
}

/** `cvae-repl config` output: the file's path, then one `key = value` line per setting. */
export function formatSettings(store: SettingsStore): string {
  const settings = store.get();
  const lines = [`settings file: ${store.path}`];
  for (const key of SETTING_KEYS) {
    const value = settings[key];
    const none = key === 'checkpoint' ? `(none: ${SHIPPED_CHECKPOINT})` : '(none: fresh draws)';
    lines.push(`${key.padEnd(10)} = ${value === undefined ? none : String(value)}`);
  }
  return `${lines.join('\n')}\n`;
}
