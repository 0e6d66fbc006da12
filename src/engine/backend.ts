/**
 * Picks and initialises the TensorFlow.js backend: `tensorflow` (native, from the optional
 * `@tensorflow/tfjs-node`) -> `wasm` -> `cpu`. On wasm it also registers the kernels that training
 * the notebook's model needs and the wasm backend lacks (see ./wasm-kernels).
 *
 * Tests: `await initBackend('wasm')` (or `'cpu'`) in a `before` hook; it is idempotent and cheap
 * after the first call, and switching between `wasm` and `cpu` in one process is fine (tensors
 * move between backends on access).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's node bundle registers no gradient functions; tfjs-layers' node bundle registers all
// of core's. Every training path needs them, and the app loads layers for its models anyway.
import '@tensorflow/tfjs-layers';
import type { BackendChoice, BackendName } from './types.js';
import { registerWasmKernels } from './wasm-kernels/index.js';

/** A backend could not be loaded or the choice is unknown. The message is one line, meant for the user. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
  constructor(
    message: string,
    readonly backend?: string,
  ) {
    super(message);
  }
}

const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** True for the strings `--backend` accepts. */
export function isBackendChoice(value: string): value is BackendChoice {
  return value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value);
}

// tfjs prints through console.warn unless PROD is set: the "looks like you are running TensorFlow.js
// in Node.js" banner (cpu backend), "Platform node has already been set" (tfjs-node), and "kernel ...
// is already registered" (our wasm kernels replacing stock ones). PROD silences only these warn()
// paths; thrown errors are untouched. Set before any backend is created.
tf.env().set('PROD', true);

const require = createRequire(import.meta.url);

let active: BackendName | undefined;
let wasmLoaded: Promise<void> | undefined;
let nativeLoaded: Promise<void> | undefined;

/**
 * Makes `choice` the active tfjs backend (`auto`: the fastest that loads) and returns its name.
 * Idempotent; throws BackendError when a forced backend cannot load.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  if (!isBackendChoice(choice)) {
    throw new BackendError(`unknown backend '${String(choice)}': use auto, tensorflow, wasm or cpu`);
  }
  if (choice === 'auto') {
    for (const name of BACKEND_NAMES) {
      try {
        return await activate(name);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
      }
    }
    throw new BackendError('no TensorFlow.js backend could be initialised (not even cpu)');
  }
  return activate(choice);
}

async function activate(name: BackendName): Promise<BackendName> {
  if (active === name && tf.getBackend() === name) return name;
  if (name === 'tensorflow') await loadNative();
  if (name === 'wasm') await loadWasm();
  let ok: boolean;
  const before = errorListeners();
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    ok = false;
    dropNewListeners(before);
    throw new BackendError(`backend '${name}' failed to initialise: ${oneLine(error)}`, name);
  }
  dropNewListeners(before);
  if (!ok) throw new BackendError(`backend '${name}' failed to initialise${howToGet(name)}`, name);
  if (name === 'wasm') registerWasmKernels();
  active = name;
  return name;
}

function loadNative(): Promise<void> {
  nativeLoaded ??= (async () => {
    // A variable specifier keeps TypeScript from requiring the optional package at compile time.
    const specifier = '@tensorflow/tfjs-node';
    try {
      await import(specifier);
    } catch (error) {
      const missing = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND';
      const why = missing ? '@tensorflow/tfjs-node is not installed' : `@tensorflow/tfjs-node did not load (${oneLine(error)})`;
      throw new BackendError(`backend 'tensorflow' is not available: ${why}${howToGet('tensorflow')}`, 'tensorflow');
    }
    // tfjs-node registers on the tfjs-core it resolves; if that is another copy, ours never sees it.
    if (tf.findBackendFactory('tensorflow') == null) {
      throw new BackendError(
        "backend 'tensorflow' is not available: @tensorflow/tfjs-node loaded a different copy of @tensorflow/tfjs-core (versions must match 4.22.0)",
        'tensorflow',
      );
    }
  })();
  return nativeLoaded;
}

function loadWasm(): Promise<void> {
  wasmLoaded ??= (async () => {
    let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
    try {
      wasm = await import('@tensorflow/tfjs-backend-wasm');
    } catch (error) {
      const missing = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND';
      const why = missing ? '@tensorflow/tfjs-backend-wasm is not installed' : `@tensorflow/tfjs-backend-wasm did not load (${oneLine(error)})`;
      throw new BackendError(`backend 'wasm' is not available: ${why}${howToGet('wasm')}`, 'wasm');
    }
    // The .wasm binaries sit next to the package's node entry; resolving them explicitly makes
    // loading independent of where our own code runs from (src via tsx, or dist).
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(dir + path.sep);
  })();
  return wasmLoaded;
}

type ErrorEvent = 'uncaughtException' | 'unhandledRejection';
type Listener = (...args: unknown[]) => void;
const ERROR_EVENTS: readonly ErrorEvent[] = ['uncaughtException', 'unhandledRejection'];

function listenersOf(event: ErrorEvent): Listener[] {
  // Node's typings overload listeners() per event; both events' listeners take plain arguments.
  return process.listeners(event as 'uncaughtException') as Listener[];
}

function errorListeners(): Map<ErrorEvent, Listener[]> {
  return new Map(ERROR_EVENTS.map((event) => [event, listenersOf(event)]));
}

/**
 * Emscripten's Node glue installs process-wide handlers that rethrow every uncaught exception and
 * unhandled rejection, which makes Node print a screen of minified wasm glue instead of our error.
 * Those handlers do nothing useful for us, so they are removed as soon as the module is up.
 */
function dropNewListeners(before: Map<ErrorEvent, Listener[]>): void {
  for (const event of ERROR_EVENTS) {
    const old = before.get(event) ?? [];
    for (const listener of listenersOf(event)) {
      if (!old.includes(listener)) process.removeListener(event, listener);
    }
  }
}

function howToGet(name: BackendName): string {
  switch (name) {
    case 'tensorflow':
      return ' (install it with `npm install @tensorflow/tfjs-node`, which needs its install script to run; or use --backend wasm)';
    case 'wasm':
      return ' (reinstall with `npm install`; or use --backend cpu)';
    case 'cpu':
      return ' (reinstall with `npm install`)';
  }
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : typeof error === 'object' && error && 'message' in error ? String(error.message) : String(error);
  return (text.split('\n').find((line) => line.trim() !== '') ?? 'unknown error').trim().slice(0, 300);
}
