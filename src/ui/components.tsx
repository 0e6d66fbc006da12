/** The live frame's pieces (finished output is text, src/ui/scrollback.ts): each takes props and draws, no state of its own. */
import React from 'react';
import { Box, Text } from 'ink';
import { formatBatchStats, progressBar } from '../present/format.js';
import { PROMPT, clipInput } from '../prompt/input.js';
import type { TrainingState } from './reducer.js';

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
