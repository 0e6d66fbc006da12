#!/usr/bin/env node
/**
 * The bin: parse flags, open settings, pick the mode (Ink UI, line mode when stdin is not a terminal,
 * or a subcommand), run it, and turn any error into one line and an exit code. Everything heavy
 * (Ink, React, tfjs) is imported only when the chosen mode needs it, so --help, --version and
 * config answer at once.
 */
import path from 'node:path';
import { HELP, UsageError, parseArgs, type ConfigAction, type EvalFlags, type ReplFlags, type SampleFlags, type TrainClassifierFlags, type TrainFlags } from './args.js';
import type { SampleOptions } from './engine/types.js';
import type { ReplModel } from './explore/model.js';
import type { SettingsStore } from './config/settings.js';
import type { AppServices } from './repl/options.js';
import { VERSION } from './engine/version.js';
import { firstLine } from './engine/errors.js';
import { abortOnSignal, signalExitCode, takeOverStopSignals } from './stop-signals.js';
import { trainOptionsFrom } from './train-options.js';

/**
 * Test-only (CVAE_REPL_FAKE_GENERATOR=1): the deterministic generator from test/, so the UI runs
 * without the engine or tfjs. Exists only in a source checkout run through tsx.
 */
async function loadFakeGenerator(): Promise<ReplModel> {
  // A variable specifier keeps tsc from compiling test/ into dist.
  const specifier = '../test/fake-generator.js';
  try {
    const fake = (await import(specifier)) as { createFakeGenerator(): ReplModel };
    return fake.createFakeGenerator();
  } catch {
    throw new Error('CVAE_REPL_FAKE_GENERATOR works only from a source checkout (node --import tsx src/cli.tsx)');
  }
}

const stdio = { stdout: process.stdout, stderr: process.stderr };

function say(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

async function openStore(): Promise<SettingsStore> {
  const { openSettings } = await import('./config/settings.js');
  const store = openSettings();
  for (const warning of store.warnings) say(process.stderr, warning);
  return store;
}

async function runConfig(action: ConfigAction): Promise<number> {
  const { formatSettings, SettingsError } = await import('./config/settings.js');
  const store = await openStore();
  switch (action.kind) {
    case 'show':
      process.stdout.write(formatSettings(store));
      return 0;
    case 'reset':
      store.reset();
      say(process.stdout, `settings reset to defaults (${store.path})`);
      return 0;
    case 'set':
      try {
        store.set(action.key, action.value);
      } catch (error) {
        if (!(error instanceof SettingsError)) throw error;
        say(process.stderr, `error: ${error.message}`);
        say(process.stderr, 'run `cvae-repl config` to see the settings and their values');
        return 2;
      }
      process.stdout.write(formatSettings(store));
      return 0;
  }
}

async function runTrain(flags: TrainFlags): Promise<number> {
  // First of all, so a signal in the first second (while tfjs loads) is answered, not silent.
  const controller = new AbortController();
  const stop = abortOnSignal(controller, 'training');
  try {
    const options = await trainOptionsFrom(flags);
    const store = await openStore();
    const { runTrainCommand } = await import('./commands/train.js');
    stop.begin();
    const code = await runTrainCommand(options, stdio, controller.signal);
    const { readdirSync } = await import('node:fs');
    let written = false;
    try {
      written = readdirSync(options.checkpointDir).length > 0;
    } catch {
      written = false;
    }
    if ((code === 0 || code === 130 || code === 143) && written) {
      // Training went well even when the settings cannot record it: say so, keep the exit code.
      const warning = store.setActiveCheckpoint(options.checkpointDir);
      say(process.stderr, warning ?? `active checkpoint: ${options.checkpointDir}`);
    }
    return code;
  } finally {
    stop.release();
  }
}

async function runSample(flags: SampleFlags): Promise<number> {
  const { resolveCheckpoint } = await import('./config/settings.js');
  const settings = (await openStore()).get();
  const checkpoint = resolveCheckpoint(flags.checkpoint, settings);
  if (checkpoint.warning !== undefined) say(process.stderr, checkpoint.warning);
  const options: SampleOptions = {
    digit: flags.digit,
    count: flags.count,
    pad: flags.pad,
    sampler: flags.sampler ?? settings.sampler,
    scale: flags.scale ?? settings.scale,
    checkpointDir: checkpoint.dir,
    out: path.resolve(flags.out ?? `digit-${flags.digit}.png`),
    backend: flags.backend ?? 'auto',
    ...(flags.cols === undefined ? {} : { cols: flags.cols }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
  };
  const { runSampleCommand } = await import('./commands/sample.js');
  return runSampleCommand(options, stdio);
}

async function runEval(flags: EvalFlags): Promise<number> {
  const { resolveCheckpoint } = await import('./config/settings.js');
  const { SHIPPED_CLASSIFIER } = await import('./config/paths.js');
  const settings = (await openStore()).get();
  const checkpoint = resolveCheckpoint(flags.checkpoint, settings);
  if (checkpoint.warning !== undefined) say(process.stderr, checkpoint.warning);
  const { runEvalCommand, DEFAULT_EVAL_OPTIONS } = await import('./commands/eval.js');
  return runEvalCommand(
    {
      checkpointDir: checkpoint.dir,
      classifierDir: path.resolve(flags.classifier ?? SHIPPED_CLASSIFIER),
      json: flags.json,
      backend: flags.backend ?? 'auto',
      samplesPerDigit: flags.samples ?? DEFAULT_EVAL_OPTIONS.samplesPerDigit,
      seed: flags.seed ?? DEFAULT_EVAL_OPTIONS.seed,
      ...(flags.out === undefined ? {} : { out: path.resolve(flags.out) }),
      ...(flags.dataDir === undefined ? {} : { dataDir: path.resolve(flags.dataDir) }),
    },
    { ...stdio, env: process.env },
  );
}

async function runTrainClassifier(flags: TrainClassifierFlags): Promise<number> {
  const controller = new AbortController();
  const stop = abortOnSignal(controller, 'training');
  try {
    const { SHIPPED_CLASSIFIER } = await import('./config/paths.js');
    const { runTrainClassifierCommand, DEFAULT_TRAIN_CLASSIFIER_OPTIONS: d } = await import('./commands/train-classifier.js');
    stop.begin();
    return await runTrainClassifierCommand(
      {
        out: path.resolve(flags.out ?? SHIPPED_CLASSIFIER),
        epochs: flags.epochs ?? d.epochs,
        batchSize: flags.batchSize ?? d.batchSize,
        seed: flags.seed ?? d.seed,
        backend: flags.backend ?? d.backend,
        signal: controller.signal,
        ...(flags.limit === undefined ? {} : { limit: flags.limit }),
        ...(flags.dataDir === undefined ? {} : { dataDir: path.resolve(flags.dataDir) }),
      },
      stdio,
    );
  } finally {
    stop.release();
  }
}

async function runRepl(flags: ReplFlags): Promise<number> {
  const { resolveCheckpoint } = await import('./config/settings.js');
  const { pickRender } = await import('./render/terminal.js');
  const store = await openStore();
  const settings = store.get();
  const backend = flags.backend ?? 'auto';
  const trainOptions = flags.train === undefined ? undefined : await trainOptionsFrom({ ...flags.train, ...(flags.backend === undefined ? {} : { backend: flags.backend }) });
  const checkpoint = resolveCheckpoint(trainOptions?.checkpointDir ?? flags.checkpoint, settings);
  if (checkpoint.warning !== undefined) say(process.stderr, checkpoint.warning);

  const services: AppServices = {
    loadGenerator:
      process.env.CVAE_REPL_FAKE_GENERATOR === '1' ? loadFakeGenerator : async (dir) => (await import('./explore/model.js')).loadReplModel(dir, backend),
    // `:grid 4`, `:seed off` ... at the prompt: saved for the next run too.
    saveSetting: (key, value) => {
      if (value === null) store.unset(key);
      else store.set(key, value);
    },
    onTrained: (outcome) => store.setActiveCheckpoint(outcome.checkpointDir),
  };
  if (trainOptions !== undefined) {
    services.train = async (callbacks) => (await import('./engine/train.js')).trainCheckpoint(trainOptions, callbacks);
  }
  // `:seed N` at the prompt saves a seed; --seed overrides it for one run.
  const seed = flags.seed ?? settings.seed;
  const common = {
    services,
    checkpointDir: checkpoint.dir,
    grid: flags.grid ?? settings.grid,
    sampler: flags.sampler ?? settings.sampler,
    scale: flags.scale ?? settings.scale,
    backendChoice: backend,
    version: VERSION,
    ...(seed === undefined ? {} : { seed }),
    ...(trainOptions === undefined ? {} : { training: { epochs: trainOptions.epochs, batchSize: trainOptions.batchSize } }),
  };
  const choice = flags.render ?? settings.render;
  const env = process.env;

  if (process.stdin.isTTY && process.stdout.isTTY) {
    // Ink draws no live frame (no prompt) when CI is set; with a terminal on both ends a person is
    // typing, so hide CI from Ink, which reads it on import.
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
    // React's development build keeps bookkeeping for every render: about 3 KB of heap per prompt in
    // this UI (57 MB over 20,000 prompts in tools/ui-memory.tsx), and none in production. React reads
    // NODE_ENV when it is first imported, which is here.
    process.env.NODE_ENV ??= 'production';
    const { runInteractive } = await import('./ui/interactive.js');
    const { mode, ...renderPick } = pickRender(choice, { env, isTTY: true });
    return runInteractive({ ...common, render: mode, renderPick });
  }

  // Line mode: text grids unless --render names a protocol; no terminal width when piped.
  const { runLineMode } = await import('./repl/line-mode.js');
  const controller = new AbortController();
  let training = trainOptions !== undefined;
  const release = takeOverStopSignals((signal) => {
    if (training && !controller.signal.aborted) {
      say(process.stderr, 'stopping after the current batch; the last complete checkpoint is kept');
      controller.abort();
      return;
    }
    process.exit(training ? signalExitCode(signal) : signal === 'SIGINT' ? 0 : 143);
  });
  try {
    const columns = process.stdout.isTTY ? process.stdout.columns || 80 : Number(env.COLUMNS) || 200;
    return await runLineMode({
      ...common,
      services: { ...services, ...(services.train === undefined ? {} : { train: async (callbacks) => services.train!(callbacks).finally(() => (training = false)) }) },
      input: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      ...(({ mode, ...renderPick }) => ({ render: mode, renderPick }))(pickRender(choice, { env, isTTY: false })),
      columns,
      ...(process.stdout.isTTY ? { rows: process.stdout.rows || 24 } : {}),
      signal: controller.signal,
    });
  } finally {
    release();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  // A reader that went away (`cvae-repl ... | head -1`) ends the session quietly, not with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(0);
    });
  }
  let command;
  try {
    command = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(process.stderr, `error: ${error.message}`);
    say(process.stderr, error.hint);
    return 2;
  }
  switch (command.kind) {
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case 'version':
      say(process.stdout, VERSION);
      return 0;
    case 'config':
      return runConfig(command.action);
    case 'train':
      return runTrain(command.flags);
    case 'sample':
      return runSample(command.flags);
    case 'eval':
      return runEval(command.flags);
    case 'train-classifier':
      return runTrainClassifier(command.flags);
    case 'repl':
      return runRepl(command.flags);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    say(process.stderr, `error: ${firstLine(error)}`);
    process.exitCode = 1;
  },
);
