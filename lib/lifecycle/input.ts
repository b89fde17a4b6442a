/**
 * The validated inputs of the lifecycle workflows. The workflows parse their
 * input with these schemas first, so a typo fails the workflow at once with a
 * message naming the field instead of training with defaults. Pure (zod only),
 * so the workflow bundle can import it.
 */
import { z } from 'zod';
import { driftSettingsSchema } from '../monitoring/drift-result';
import { durationSchema as duration } from './duration';
import { rolloutInputSchema } from './rollout-config';

export const datasetRefSchema = z
  .object({
    /** Git repository (local path or URL) holding the DVC project; default: the worker's DATASET_REPO. */
    repo: z.string().min(1).optional(),
    /** Path of the DVC-tracked directory, relative to the repository root; default: DATASET_PATH. */
    path: z.string().min(1).optional(),
    /** Git revision (tag, branch, commit); default HEAD. */
    rev: z.string().min(1).optional(),
  })
  .strict();
export type DatasetRef = z.infer<typeof datasetRefSchema>;

/** Trainer hyper-parameters, passed to the trainer as JSON (the trainer validates names and ranges). */
export const trainingParamsSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
export type TrainingParams = z.infer<typeof trainingParamsSchema>;

/**
 * Timeouts of the long steps. Defaults suit production; tests shorten them
 * (the dev server cannot skip time).
 */
export const sagaTimeoutsSchema = z
  .object({
    /** Silence after which a training attempt counts as dead and is retried (resuming from its checkpoint). */
    trainingHeartbeat: duration.default('20 seconds'),
    /** Longest single training attempt. */
    training: duration.default('6 hours'),
    /** How long a promotion may wait for another rollout of the same model to finish. */
    leaseWait: duration.default('1 hour'),
    /** One deploy attempt across the whole fleet. */
    deploy: duration.default('30 minutes'),
    /** Silence after which a rollout activity counts as dead. */
    rolloutHeartbeat: duration.default('30 seconds'),
    /** How long the alias move is retried (MLflow down, network) before the fleet is rolled back. */
    aliasMove: duration.default('30 minutes'),
    /** How long compensation and cleanup (restore the fleet, mark the run) are retried. */
    cleanup: duration.default('2 hours'),
    /** Ceiling of the backoff between retries of the MLflow/registry steps. */
    maxRetryInterval: duration.default('30 seconds'),
  })
  .strict();
export type SagaTimeouts = z.infer<typeof sagaTimeoutsSchema>;

const modelName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only');

export const trainAndPromoteInputSchema = z
  .object({
    dataset: datasetRefSchema.default({}),
    params: trainingParamsSchema.default({}),
    /** Registered model name; default fashion-mnist-classifier. */
    modelName: modelName.default('fashion-mnist-classifier'),
    /** MLflow experiment; default = model name. */
    experimentName: z.string().min(1).optional(),
    /** Metric that decides promotion (higher is better). */
    promotionMetric: z.string().min(1).default('test_accuracy'),
    /** The challenger must beat the champion by more than this. */
    minImprovement: z.number().min(0).max(1).default(0),
    /** Deploy to the inference fleet before moving the alias. */
    deploy: z.boolean().default(true),
    /** Task queue of the training workers. */
    trainingTaskQueue: z.string().min(1).default('ml-training'),
    timeouts: sagaTimeoutsSchema.default(sagaTimeoutsSchema.parse({})),
    /** How a promotion that replaces a champion reaches the fleet (progressive by default; see rollout-config.ts). */
    rollout: rolloutInputSchema.prefault({}),
  })
  .strict();
export type TrainAndPromoteInput = z.input<typeof trainAndPromoteInputSchema>;
export type TrainAndPromoteConfig = z.output<typeof trainAndPromoteInputSchema>;

export const promoteVersionInputSchema = z
  .object({
    modelName: modelName.default('fashion-mnist-classifier'),
    /** The version to promote; omitted with `rollback: true` = the version the champion replaced. */
    version: z.string().regex(/^\d+$/, 'a version number').optional(),
    /** Promote the version the current champion replaced (recorded when the alias moved). */
    rollback: z.boolean().default(false),
    /** Promote even if the gate rejects (the evidence is recorded either way). */
    force: z.boolean().default(false),
    promotionMetric: z.string().min(1).default('test_accuracy'),
    minImprovement: z.number().min(0).max(1).default(0),
    deploy: z.boolean().default(true),
    trainingTaskQueue: z.string().min(1).default('ml-training'),
    /** Who asked and why, recorded on the version. */
    reason: z.string().max(500).optional(),
    timeouts: sagaTimeoutsSchema.default(sagaTimeoutsSchema.parse({})),
    /** How the promotion reaches the fleet (progressive by default, all at once for a rollback; see rollout-config.ts). */
    rollout: rolloutInputSchema.prefault({}),
  })
  .strict()
  .refine((i) => i.rollback !== (i.version !== undefined), { message: 'give exactly one of version or rollback: true' });
export type PromoteVersionInput = z.input<typeof promoteVersionInputSchema>;
export type PromoteVersionConfig = z.output<typeof promoteVersionInputSchema>;

export const checkDatasetsInputSchema = z
  .object({
    modelName: modelName.default('fashion-mnist-classifier'),
    /** Git repository holding the DVC project; default: the worker's DATASET_REPO. */
    repo: z.string().min(1).optional(),
    /** DVC-tracked paths to watch; default: the worker's DATASET_PATH. */
    paths: z.array(z.string().min(1)).max(50).optional(),
    /** Branch or revision to watch. */
    rev: z.string().min(1).default('HEAD'),
    /** The trainAndPromote input of the runs it starts (dataset and modelName are set by the trigger). */
    train: trainAndPromoteInputSchema.omit({ dataset: true, modelName: true }).partial().default({}),
    /** Task queue the started trainAndPromote runs on (the pipeline queue). */
    pipelineTaskQueue: z.string().min(1).optional(),
  })
  .strict();
export type CheckDatasetsInput = z.input<typeof checkDatasetsInputSchema>;
export type CheckDatasetsConfig = z.output<typeof checkDatasetsInputSchema>;

/** The curation settings, shared by `lifecycle curate` and the monitor's automatic policy. */
export const curationSettingsSchema = z
  .object({
    /** Fewer new labelled payloads than this: no version is built. */
    minLabels: z.number().int().positive().default(100),
    /** Share of the new labelled payloads held out for the test split. */
    holdOutShare: z.number().min(0).max(0.5).default(0.2),
    /** At most one curation per model in this long. */
    cooldown: duration.default('6 hours'),
    /**
     * The retrained candidate's canary steps are judged by live accuracy only (rollout criteria
     * `requireLiveAccuracy`): it was trained because the champion drifted, so disagreeing with
     * that champion is expected and no evidence. Labels must keep coming during the rollout.
     */
    requireLiveAccuracy: z.boolean().default(true),
  })
  .strict();

/** curateDataset: a new dataset version from the labelled payloads, then the data trigger on it. */
export const curateDatasetInputSchema = curationSettingsSchema
  .extend({
    modelName: modelName.default('fashion-mnist-classifier'),
    /** Ignore the cooldown (an operator's explicit `lifecycle curate`). */
    force: z.boolean().default(false),
    /** Start training on the new version (through the data trigger) once it is published. */
    train: z.boolean().default(true),
    /** The trainAndPromote input of that training (dataset and modelName are set by the curation). */
    trainInput: trainAndPromoteInputSchema.omit({ dataset: true, modelName: true }).partial().default({}),
    pipelineTaskQueue: z.string().min(1).optional(),
    monitoringTaskQueue: z.string().min(1).default('ml-monitoring'),
  })
  .strict();
export type CurateDatasetInput = z.input<typeof curateDatasetInputSchema>;

/** monitorModel: one drift check of a model's served version (the champion unless `version` is given). */
export const monitorModelInputSchema = z
  .object({
    modelName: modelName.default('fashion-mnist-classifier'),
    /** The version to check; default: the `champion` alias at the time of the check. */
    version: z.string().regex(/^\d+$/, 'a version number').optional(),
    /** The task queue of the drift check (training workers serve it beside ml-training). */
    monitoringTaskQueue: z.string().min(1).default('ml-monitoring'),
    drift: driftSettingsSchema.default(driftSettingsSchema.parse({})),
    /**
     * The automatic curation policy: when the check finds drift, or the version's live accuracy is
     * below `minLiveAccuracy` on `minLiveLabels` labels, and at least `minLabels` new labelled
     * payloads exist, start curateDataset, once per champion version (its workflow id is derived
     * from model and version) and never within `cooldown` of the last curation. Off when absent.
     */
    curate: curationSettingsSchema
      .extend({
        /** The other condition: the champion's rolling live accuracy below this... */
        minLiveAccuracy: z.number().min(0).max(1).default(0.7),
        /** ...on at least this many labels (lifecycle_live_accuracy_samples). */
        minLiveLabels: z.number().int().positive().default(100),
        trainInput: trainAndPromoteInputSchema.omit({ dataset: true, modelName: true }).partial().default({}),
      })
      .optional(),
  })
  .strict();
export type MonitorModelInput = z.input<typeof monitorModelInputSchema>;

/** Parses workflow input, turning zod's issues into one readable line per bad field. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`);
  throw new InvalidInputError(`invalid ${what} input: ${issues.join('; ')}`);
}

export class InvalidInputError extends Error {
  readonly code = 'INVALID_INPUT';
}
