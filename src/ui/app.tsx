/**
 * The interactive REPL. Services (generator loading, training) come in as props, so tests drive the
 * real UI with a fake generator. Finished output (echoed lines, grids, image payloads, messages) is
 * written once, in order, with Ink's `write`, above the live frame, and then dropped from the state
 * (see scrollback.ts): the live frame is only the prompt or the progress, which Ink redraws.
 */
import React, { useCallback, useEffect, useLayoutEffect, useReducer, useRef } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import type { ReplModel } from '../explore/model.js';
import { createSession, type Session } from '../explore/session.js';
import { Prompt, TrainingProgress } from './components.js';
import { chartStyleFor, errorMessage, renderPicture, renderPreview } from '../present/format.js';
import { initialState, reducer, type RunOutput } from './reducer.js';
import { historyText } from './scrollback.js';
import { describeRender } from '../render/terminal.js';
import type { ReplOptions } from '../repl/options.js';
import { trainThenOpen } from '../repl/train-then-open.js';

export interface AppProps extends ReplOptions {
  /** Receives the exit code just before the app unmounts. */
  onExit(code: number): void;
}

export function App(props: AppProps): React.JSX.Element {
  const { services, render: mode, grid, sampler, scale, seed } = props;
  const [state, dispatch] = useReducer(reducer, initialState);
  const { exit } = useApp();
  const { stdout, write } = useStdout();
  const columns = stdout.columns || 80;
  const generatorRef = useRef<ReplModel | undefined>(undefined);
  const sessionRef = useRef<Session | undefined>(undefined);
  const abortRef = useRef<AbortController | undefined>(undefined);
  const emitted = useRef(0);
  const onExitRef = useRef(props.onExit);
  onExitRef.current = props.onExit;
  const columnsRef = useRef(columns);
  columnsRef.current = columns;
  // Image modes fit pictures to the window's height too (undefined: unknown, e.g. not a terminal).
  const rowsRef = useRef<number | undefined>(undefined);
  rowsRef.current = stdout.rows || undefined;

  // Train (with --train), then open the checkpoint. Runs once.
  useEffect(() => {
    let unmounted = false;
    const run = async (): Promise<void> => {
      let dir = props.checkpointDir;
      if (services.train !== undefined && props.training !== undefined) {
        const controller = new AbortController();
        abortRef.current = controller;
        dispatch({ type: 'trainingStarted', epochs: props.training.epochs, batchSize: props.training.batchSize });
        const trained = await trainThenOpen(
          { ...services, train: services.train },
          dir,
          {
            onBatchEnd: (report) => dispatch({ type: 'batch', report }),
            onEpochEnd: (report) => {
              const preview = report.preview === undefined ? undefined : renderPreview(report.preview, mode, columnsRef.current, rowsRef.current);
              dispatch(preview === undefined ? { type: 'epoch', report } : { type: 'epoch', report, preview });
            },
            onStatus: (message) => dispatch({ type: 'status', message }),
            signal: controller.signal,
          },
          { columns: columnsRef.current, style: chartStyleFor(mode) },
        ).finally(() => {
          abortRef.current = undefined;
        });
        if (!trained.ok) {
          if (!unmounted) dispatch({ type: 'failed', message: trained.error });
          return;
        }
        dir = trained.dir;
        dispatch({ type: 'trainingFinished', outcome: trained.outcome, message: trained.message, chart: trained.chart });
      }
      dispatch({ type: 'status', message: `loading checkpoint ${dir}…` });
      try {
        const generator = await services.loadGenerator(dir);
        if (unmounted) {
          generator.dispose();
          return;
        }
        generatorRef.current = generator;
        sessionRef.current = createSession({
          model: generator,
          settings: { grid, sampler, scale, ...(seed === undefined ? {} : { seed }) },
          ...(services.saveSetting === undefined ? {} : { saveSetting: services.saveSetting }),
        });
        dispatch({ type: 'loaded', model: { backend: generator.backend, checkpoint: generator.checkpoint } });
      } catch (error) {
        if (!unmounted) dispatch({ type: 'failed', message: errorMessage(error) });
      }
    };
    void run();
    return () => {
      unmounted = true;
      abortRef.current?.abort();
      generatorRef.current?.dispose();
      generatorRef.current = undefined;
    };
    // Mount-only: the services and checkpoint of one run do not change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // Run the draw or command in flight. Only a new submission starts one: the terminal width is read
  // when it finishes, so a resize meanwhile neither restarts nor doubles it.
  const { pending } = state;
  useEffect(() => {
    const session = sessionRef.current;
    if (pending === undefined || session === undefined) return;
    session
      .run(pending.input)
      .then((outputs) =>
        dispatch({
          type: 'ran',
          outputs: outputs.map((output): RunOutput => {
            if (output.kind !== 'picture') return output;
            const grid = renderPicture(output.picture, mode, columnsRef.current, rowsRef.current);
            return output.picture.caption === undefined ? { kind: 'picture', grid } : { kind: 'picture', grid, caption: output.picture.caption };
          }),
        }),
      )
      .catch((error: unknown) => dispatch({ type: 'generateFailed', message: errorMessage(error) }));
    // The render mode is fixed for the run; the session holds the settings.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pending]);

  // Everything finished since the last commit goes to the scrollback in one write, in the order it
  // happened (a pasted `3\n-1\n`: the 3s' grid, then the echo of -1), and leaves the state.
  useLayoutEffect(() => {
    const fresh = state.history.filter((item) => item.id >= emitted.current);
    if (fresh.length === 0) return;
    const context = {
      version: props.version,
      backendChoice: props.backendChoice,
      sampler,
      color: mode !== 'ascii',
      render: describeRender({ mode, how: props.renderPick?.how ?? 'asked' }),
      ...(props.renderPick?.hint === undefined ? {} : { renderHint: props.renderPick.hint }),
    };
    write(fresh.map((item) => historyText(item, context)).join(''));
    emitted.current = fresh.at(-1)!.id + 1;
    dispatch({ type: 'printed', upTo: emitted.current });
    // The version, backend choice, sampler and mode are fixed for the run.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [state.history, write]);

  const { phase, exitCode } = state;
  useEffect(() => {
    if (phase !== 'exiting' && phase !== 'error') return;
    onExitRef.current(exitCode ?? 0);
    exit();
  }, [phase, exitCode, exit]);

  const stopTraining = useCallback(() => {
    abortRef.current?.abort();
    dispatch({ type: 'stopRequested' });
  }, []);

  useInput((input, key) => {
    if (key.ctrl && input === 'c') {
      if (phase === 'training') {
        if (state.training?.stopping === true) {
          // A second Ctrl+C does not wait for the batch.
          onExitRef.current(130);
          exit();
        } else stopTraining();
        return;
      }
      dispatch({ type: 'quit' });
      return;
    }
    if (key.ctrl && input === 'd') {
      if (phase !== 'training') dispatch({ type: 'quit' });
      return;
    }
    if (key.return) {
      dispatch({ type: 'submitted' });
      return;
    }
    if (key.backspace || key.delete) {
      dispatch({ type: 'erased' });
      return;
    }
    if (key.ctrl || key.meta || input === '') return;
    // A paste may carry several lines: each line break submits what came before it.
    const parts = input.split(/\r\n|\r|\n/);
    parts.forEach((part, i) => {
      if (part !== '') dispatch({ type: 'typed', text: part });
      if (i < parts.length - 1) dispatch({ type: 'submitted' });
    });
  });

  return (
    <Box flexDirection="column">
      {phase === 'loading' ? <Text dimColor>{state.status ?? 'loading…'}</Text> : null}
      {phase === 'training' && state.training !== undefined ? <TrainingProgress training={state.training} columns={columns} /> : null}
      {phase === 'prompt' ? <Prompt input={state.input} /> : null}
      {phase === 'generating' && pending !== undefined ? <Text dimColor>{sessionRef.current?.describe(pending.input) ?? 'working…'}</Text> : null}
    </Box>
  );
}

