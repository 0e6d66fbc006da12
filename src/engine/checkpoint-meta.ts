/**
 * A checkpoint's meta.json: its type, and its schema, which checks every field, its type and its range at
 * load (zod), so that a damaged or hand-edited file fails at once with one line naming the field
 * (`<dir>/meta.json: data.source: missing (expected a string); retrain or restore the checkpoint`), not
 * deep inside training or sampling.
 *
 * The fitted latent density (`prior`) has its own, deeper validator (prior.ts: shapes against
 * latentDim, positive-definite factors ...), which the loader runs unless it drops the density.
 */
import { z } from 'zod';
import type { ModelConfig } from './model.js';
import type { LatentPrior } from './prior.js';
import type { BackendName } from './types.js';

/** Bumped when the layout or meta.json changes incompatibly; loading refuses versions it does not know. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** One row of the training history. */
export interface EpochMetrics {
  readonly epoch: number;
  readonly loss: number;
  readonly recon: number;
  readonly kl: number;
  readonly testRecon: number;
  readonly testKl: number;
  readonly seconds: number;
}

/** The training recipe a checkpoint was made with (what `--resume` continues). */
export interface TrainingRecipe {
  readonly batchSize: number;
  readonly learningRate: number;
  readonly gamma: number;
  readonly seed: number;
  readonly limit: number | null;
  readonly adam: { readonly beta1: number; readonly beta2: number; readonly epsilon: number };
}

/** Where Adam's state lives and what it holds. */
export interface OptimizerManifest {
  readonly file: 'optimizer.bin';
  readonly step: number;
  /** Trainable variables in order; the file holds all m's, then all v's, float32, in this order. */
  readonly variables: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }>;
}

/** meta.json. */
export interface CheckpointMeta {
  readonly formatVersion: number;
  readonly generatedBy: string;
  readonly model: ModelConfig;
  readonly training: TrainingRecipe;
  readonly epochsTrained: number;
  /** Training images the model learned from (the training set size, after `--limit`). */
  readonly trainSamples: number;
  readonly backend: BackendName;
  /** Training time over the checkpoint's life, seconds. */
  readonly wallSeconds: number;
  readonly history: readonly EpochMetrics[];
  readonly data: { readonly fingerprint: string; readonly trainCount: number; readonly source: string };
  /** Absent until training finished its epochs and fitted the density (then the `fitted` sampler works). */
  readonly prior: LatentPrior | null;
  /**
   * Set when training finished (absent or null in per-epoch saves): the BatchNorm statistics were then
   * measured over `batchNormImages` training images with the final weights (batchnorm-stats.ts), and
   * the finished model scored `testRecon` (per-pixel MSE, sampled z) and `testKl` on the test set.
   */
  readonly finish?: { readonly batchNormImages: number; readonly testRecon: number; readonly testKl: number } | null;
  readonly optimizer: OptimizerManifest | null;
  readonly savedAt: string;
}


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

/** What the schema gives; the prior is still to be checked by validateLatentPrior. */
export type ParsedMeta = Omit<CheckpointMeta, 'prior' | 'optimizer'> & { prior: unknown; optimizer: CheckpointMeta['optimizer'] };

// The schema's output must stay a CheckpointMeta (but for the prior, and backend, a wider string):
// a compile error here means they drifted.
type SchemaOut = z.output<typeof checkpointMetaSchema>;
const schemaMatchesType = (m: SchemaOut): Omit<CheckpointMeta, 'prior' | 'optimizer' | 'formatVersion' | 'backend'> & { optimizer?: CheckpointMeta['optimizer'] } => m;
void schemaMatchesType;

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
  if (result.success) return { ok: true, meta: { ...result.data, optimizer: result.data.optimizer ?? null } as ParsedMeta };
  const issue = result.error.issues[0]!;
  return { ok: false, problem: `${fieldPath(issue.path)}: ${describeIssue(issue)}` };
}
