/**
 * The schema of a checkpoint's meta.json: every field, its type and its range, checked at load (zod).
 * Until issue 13 the file was trusted once it parsed, so a meta.json without `data` failed later with
 * "Cannot read properties of undefined (reading 'source')". Now the first problem is one line that
 * names the field: `<dir>/meta.json: data.source: missing (expected a string); retrain or restore the checkpoint`.
 *
 * The fitted latent density (`prior`) has its own, deeper validator (prior.ts: shapes against
 * latentDim, positive-definite factors ...), which the loader runs unless it drops the density.
 */
import { z } from 'zod';

const count = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);
/** A finite number >= 0 (losses, times). JSON has no NaN: a NaN written by a diverged run reads back as null. */
const nonNegative = z.number().min(0);

const epochMetrics = z.object({
  epoch: count,
  loss: nonNegative,
  recon: nonNegative,
  kl: nonNegative,
  testRecon: nonNegative,
  testKl: nonNegative,
  seconds: nonNegative,
});

export const checkpointMetaSchema = z.object({
  formatVersion: z.literal(1),
  generatedBy: z.string(),
  model: z.object({ latentDim: count.max(4096), imageSize: count, numClasses: count }),
  training: z.object({
    batchSize: count,
    learningRate: z.number().gt(0),
    gamma: z.number().min(0),
    seed: z.number().int(),
    limit: count.nullable(),
    adam: z.object({ beta1: z.number().min(0).lt(1), beta2: z.number().min(0).lt(1), epsilon: z.number().gt(0) }),
  }),
  epochsTrained: nonNegativeInt,
  trainSamples: count,
  // Where it was trained, as a record (bench/import-torch.ts writes 'pytorch'); nothing depends on its value.
  backend: z.string().min(1),
  wallSeconds: nonNegative,
  history: z.array(epochMetrics),
  data: z.object({ fingerprint: z.string().min(1), trainCount: count, source: z.string().min(1) }),
  // Anything here: validateLatentPrior judges it, unless --resume drops it (a damaged one must not block the refit).
  prior: z.unknown(),
  finish: z.object({ batchNormImages: count, testRecon: nonNegative, testKl: nonNegative }).nullable().optional(),
  optimizer: z
    .object({
      file: z.literal('optimizer.bin'),
      step: nonNegativeInt,
      variables: z.array(z.object({ name: z.string().min(1), shape: z.array(count) })),
    })
    .nullable()
    .optional(),
  savedAt: z.string(),
});

/** What the schema gives (checkpoint.ts checks that it stays a CheckpointMeta); the prior is still to be checked by validateLatentPrior. */
export type ParsedMeta = z.output<typeof checkpointMetaSchema>;

/** A field's path as a reader writes it: `history[3].loss`. */
export function fieldPath(pathParts: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of pathParts) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out === '' ? '(the whole file)' : out;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  object: 'an object',
  record: 'an object',
  array: 'a list',
  boolean: 'true or false',
  null: 'null',
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** The problem of one zod issue, in words: "missing (expected a string)", "must be >= 1, got 0". */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  // JSON has no undefined: an undefined input is a missing field.
  const has = input !== undefined;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      const received = (issue as { received?: unknown }).received;
      if (!has && received === undefined) return `missing (expected ${expected})`;
      return `expected ${expected}, got ${received !== undefined ? String(received) : describe(input)}`;
    }
    case 'too_small':
      if (issue.origin === 'array') return `needs at least ${String(issue.minimum)} entries`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}, got ${describe(input)}`;
    case 'too_big':
      if (issue.origin === 'array') return `has more than ${String(issue.maximum)} entries`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}, got ${describe(input)}`;
    case 'invalid_value':
      return `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${has ? describe(input) : 'nothing (missing)'}`;
    default:
      return issue.message;
  }
}

/** Validates parsed meta.json; returns it typed, or the first problem as `field: problem`. */
export function checkMeta(value: unknown): { ok: true; meta: ParsedMeta } | { ok: false; problem: string } {
  const result = checkpointMetaSchema.safeParse(value, { reportInput: true });
  if (result.success) return { ok: true, meta: result.data };
  const issue = result.error.issues[0]!;
  return { ok: false, problem: `${fieldPath(issue.path)}: ${describeIssue(issue)}` };
}
