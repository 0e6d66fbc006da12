/**
 * The interactive REPL. Services (generator loading, training) come in as props, so tests drive the
 * real UI with a fake generator. Finished output goes to <Static>; image payloads are written with
 * Ink's `write`, outside the live frame, because Ink measures and redraws that frame.
 */
import React, { useCallback, useEffect, useLayoutEffect, useReducer, useRef } from 'react';
import { Box, Static, Text, useApp, useInput, useStdout } from 'ink';
import type { EpochReport, TrainOutcome } from '../engine/types.js';
import type { ReplModel } from '../explore/model.js';
import { createSession, type Session } from '../explore/session.js';
import { lossChart } from '../present/chart.js';
import { HistoryLine, Prompt, TrainingProgress } from './components.js';
import { chartStyleFor, errorMessage, plural, renderPicture, renderPreview } from '../present/format.js';
import { initialState, reducer, type HistoryItem, type RunOutput } from './reducer.js';
import type { ReplOptions } from '../repl/options.js';

export interface AppProps extends ReplOptions {
  /** Receives the exit code just before the app unmounts. */
  onExit(code: number): void;
}

function payloadOf(item: HistoryItem): string | undefined {
  if (item.kind === 'grid' && item.grid.kind === 'payload') return item.grid.data;
  if (item.kind === 'epoch' && item.preview?.kind === 'payload') return item.preview.data;
  return undefined;
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

  // Train (with --train), then open the checkpoint. Runs once.
  useEffect(() => {
    let unmounted = false;
    const run = async (): Promise<void> => {
      let dir = props.checkpointDir;
      if (services.train !== undefined && props.training !== undefined) {
        const controller = new AbortController();
        abortRef.current = controller;
        dispatch({ type: 'trainingStarted', epochs: props.training.epochs, batchSize: props.training.batchSize });
        let outcome: TrainOutcome;
        const epochs: EpochReport[] = [];
        try {
          outcome = await services.train({
            onBatchEnd: (report) => dispatch({ type: 'batch', report }),
            onEpochEnd: (report) => {
              epochs.push({ ...report, preview: undefined });
              const preview = report.preview === undefined ? undefined : renderPreview(report.preview, mode, columnsRef.current);
              dispatch(preview === undefined ? { type: 'epoch', report } : { type: 'epoch', report, preview });
            },
            onStatus: (message) => dispatch({ type: 'status', message }),
            signal: controller.signal,
          });
        } catch (error) {
          if (!unmounted) dispatch({ type: 'failed', message: errorMessage(error) });
          return;
        } finally {
          abortRef.current = undefined;
        }
        if (outcome.epochsTrained > 0) {
          dir = outcome.checkpointDir;
          services.onTrained?.(outcome);
        }
        const message = outcome.aborted
          ? outcome.epochsTrained > 0
            ? `training stopped; kept the last complete checkpoint (${plural(outcome.epochsTrained, 'epoch')}) in ${outcome.checkpointDir}`
            : `training stopped before its first epoch finished; no checkpoint was written, opening ${dir}`
          : `training done: ${plural(outcome.epochsTrained, 'epoch')} in ${outcome.checkpointDir}, now the active checkpoint`;
        const chart = lossChart(epochs, { columns: columnsRef.current, style: chartStyleFor(mode) });
        dispatch({ type: 'trainingFinished', outcome, message, chart });
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
            const grid = renderPicture(output.picture, mode, columnsRef.current);
            return output.picture.caption === undefined ? { kind: 'picture', grid } : { kind: 'picture', grid, caption: output.picture.caption };
          }),
        }),
      )
      .catch((error: unknown) => dispatch({ type: 'generateFailed', message: errorMessage(error) }));
    // The render mode is fixed for the run; the session holds the settings.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pending]);

  // <Static> wrote the new entries in this commit, before layout effects run; then the pixels can go.
  useLayoutEffect(() => {
    const fresh = state.history.slice(emitted.current);
    if (fresh.length === 0) return;
    for (const item of fresh) {
      const payload = payloadOf(item);
      if (payload !== undefined) write(`${payload}\n`);
    }
    emitted.current = state.history.length;
    dispatch({ type: 'printed', upTo: fresh.at(-1)!.id + 1 });
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
      <Static items={state.history as HistoryItem[]}>
        {(item) => <HistoryLine key={item.id} item={item} version={props.version} backendChoice={props.backendChoice} sampler={sampler} />}
      </Static>
      {phase === 'loading' ? <Text dimColor>{state.status ?? 'loading…'}</Text> : null}
      {phase === 'training' && state.training !== undefined ? <TrainingProgress training={state.training} columns={columns} /> : null}
      {phase === 'prompt' ? <Prompt input={state.input} /> : null}
      {phase === 'generating' && pending !== undefined ? <Text dimColor>{sessionRef.current?.describe(pending.input) ?? 'working…'}</Text> : null}
    </Box>
  );
}

