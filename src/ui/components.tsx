/** Presentational pieces of the REPL: each takes props and draws, no state of its own. */
import React from 'react';
import { Box, Text } from 'ink';
import type { BackendChoice, SamplerName } from '../engine/types.js';
import type { RenderedGrid } from '../render/terminal.js';
import { PROMPT_HINT, backendHint, formatBatchStats, formatEpoch, formatHeader, progressBar } from '../present/format.js';
import { PROMPT, clipInput } from '../prompt/input.js';
import type { HistoryItem, TrainingState } from './reducer.js';

/** A grid as text; protocol payloads are written outside Ink's frame by the app, so they draw nothing here. */
export function GridText({ grid }: { grid: RenderedGrid }): React.JSX.Element | null {
  if (grid.kind === 'payload') return null;
  return (
    <Box flexDirection="column">
      <Text>{grid.lines.join('\n')}</Text>
      {grid.note === undefined ? null : <Text dimColor>{grid.note}</Text>}
    </Box>
  );
}

/** One finished entry of the scrollback. */
export function HistoryLine({ item, version, backendChoice, sampler }: { item: HistoryItem; version: string; backendChoice: BackendChoice; sampler: SamplerName }): React.JSX.Element | null {
  switch (item.kind) {
    case 'header': {
      const hint = backendHint(backendChoice, item.model.backend);
      return (
        <Box flexDirection="column">
          {formatHeader(version, item.model.backend, item.model.checkpoint, sampler).map((line, i) => (
            <Text key={line} bold={i === 0}>
              {line}
            </Text>
          ))}
          {hint === undefined ? null : <Text dimColor>{hint}</Text>}
          <Text dimColor>{PROMPT_HINT}</Text>
        </Box>
      );
    }
    case 'input':
      return <Text>{item.text}</Text>;
    case 'grid':
      // A payload grid is written by the app after this caption, outside Ink's frame.
      return item.caption === undefined ? (
        <GridText grid={item.grid} />
      ) : (
        <Box flexDirection="column">
          <Text dimColor>{item.caption}</Text>
          <GridText grid={item.grid} />
        </Box>
      );
    case 'message':
      return <Text>{item.text}</Text>;
    case 'chart':
      return <Text>{item.lines.join('\n')}</Text>;
    case 'epoch':
      return (
        <Box flexDirection="column">
          <Text>{formatEpoch(item.report)}</Text>
          {item.preview === undefined ? null : <GridText grid={item.preview} />}
        </Box>
      );
    case 'value':
      return <Text>{item.text}</Text>;
    case 'info':
      return <Text dimColor>{item.text}</Text>;
    case 'error':
      return <Text color="red">{`error: ${item.text}`}</Text>;
  }
}

/** The live prompt line with a block cursor. */
export function Prompt({ input }: { input: string }): React.JSX.Element {
  return (
    <Text>
      {`${PROMPT} ${clipInput(input, 'end')}`}
      <Text inverse> </Text>
    </Text>
  );
}

/** Live training progress: epoch, a bar over the epoch's batches, running losses, throughput, ETA. */
export function TrainingProgress({ training, columns }: { training: TrainingState; columns: number }): React.JSX.Element {
  const { batch } = training;
  const barWidth = Math.max(10, Math.min(40, columns - 30));
  return (
    <Box flexDirection="column">
      {batch === undefined ? (
        <Text>{training.status ?? 'preparing training…'}</Text>
      ) : (
        <>
          <Text>
            {`epoch ${batch.epoch}/${batch.epochs} `}
            <Text color="cyan">{progressBar(batch.batch, batch.batches, barWidth)}</Text>
            {` ${batch.batch}/${batch.batches} batches`}
          </Text>
          <Text>{formatBatchStats(batch, training.batchSize)}</Text>
        </>
      )}
      <Text dimColor>{training.stopping ? 'stopping after this batch; the last complete checkpoint is kept…' : 'Ctrl+C stops after the current batch and keeps the last complete checkpoint'}</Text>
    </Box>
  );
}
