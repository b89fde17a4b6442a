/**
 * Contract between the fleet controller (the one writer of the fleet's
 * `active` hash), the rollout activities (senders of commands), the inference
 * workers and the API, carried over Redis. Redis is a transport and a cache:
 * the MLflow registry (`champion` alias) is the truth, and everything here is
 * rebuilt from it and from the workers themselves when Redis loses its keys.
 * Every type is derived from its schema; every value read from Redis is parsed
 * with one. All keys take the REDIS_PREFIX.
 */
import { z } from 'zod';
import { modelMetadataSchema } from '../model/metadata';

/** A model version as the fleet knows it. */
export const modelRefSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  /** sha256 of the ONNX file recorded at registration; workers refuse a mismatch. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, 'sha256 must be 64 hex digits')
    .transform((s) => s.toLowerCase()),
  /** MLflow artifact URI of the ONNX file (`mlflow-artifacts:/...`). */
  artifactUri: z.string().min(1),
});
export type ModelRef = z.infer<typeof modelRefSchema>;

/**
 * What the fleet serves for one model, cached in the `active` hash (field =
 * model name): the registry's champion with the metadata the API decodes
 * uploads for. Workers converge to it when no rollout holds the model's lease.
 */
export const activeModelSchema = modelRefSchema.extend({ metadata: modelMetadataSchema });
export type ActiveModel = z.infer<typeof activeModelSchema>;

/**
 * Traffic modes of a progressive rollout (issue 14). shadow: a share of live
 * requests is also run by the candidate after the champion answered (the user
 * never waits for it); canary: a share of requests is answered by the candidate.
 */
export const trafficModes = ['shadow', 'canary'] as const;
export type TrafficMode = (typeof trafficModes)[number];

/**
 * The registered-model tag holding the traffic plan of the progressive rollout
 * in progress. The registry is the truth for traffic as for the champion: the
 * rollout activities write this tag, the fleet controller turns it into the
 * `traffic` hash, and rebuilds that hash from it when Redis loses its keys.
 */
export const TRAFFIC_PLAN_TAG = 'lifecycle.traffic';

export const trafficPlanSchema = z.object({
  /** The candidate version (the champion is whatever the `champion` alias names). */
  version: z.string().min(1),
  mode: z.enum(trafficModes),
  /** shadow: share of requests the candidate also runs; canary: share of requests the candidate answers. */
  share: z.number().min(0).max(1),
  /** canary: share of candidate-answered requests the champion also runs (after the reply), so agreement is measured. */
  mirrorShare: z.number().min(0).max(1).default(0.25),
  /** The rollout that set the plan (its lease's deployment id). */
  deploymentId: z.string().min(1),
  setAt: z.number(),
  /** The step's maximum duration (an alert fires when the plan is older). */
  maxDurationMs: z.number().positive().optional(),
});
export type TrafficPlan = z.infer<typeof trafficPlanSchema>;

/** `traffic[model]`: the plan with the candidate's ref and serving metadata. Written by the fleet controller only. */
export const trafficStateSchema = trafficPlanSchema.extend({ candidate: activeModelSchema });
export type TrafficState = z.infer<typeof trafficStateSchema>;

/** Why a worker could not bring a version into service (it keeps serving the previous one). */
export const modelLoadErrorCodes = ['MODEL_DOWNLOAD_FAILED', 'MODEL_CHECKSUM_MISMATCH', 'MODEL_INVALID', 'GOLDEN_CHECK_FAILED', 'MODEL_LOAD_FAILED'] as const;
export type ModelLoadErrorCode = (typeof modelLoadErrorCodes)[number];
/** Load failures that say the file itself is bad: no retry can fix them. */
export const PERMANENT_LOAD_ERRORS: ReadonlySet<ModelLoadErrorCode> = new Set(['MODEL_CHECKSUM_MISMATCH', 'MODEL_INVALID', 'GOLDEN_CHECK_FAILED']);
export const modelLoadFailureSchema = z.object({ code: z.enum(modelLoadErrorCodes), message: z.string() });
export type ModelLoadFailure = z.infer<typeof modelLoadFailureSchema>;

export const modelStates = ['starting', 'loading', 'ready', 'failed'] as const;
export type ModelState = (typeof modelStates)[number];

/** The candidate of a progressive rollout as one worker holds it beside the champion (shadow/canary traffic). */
export const candidateStatusSchema = z.object({
  version: z.string().min(1),
  state: z.enum(modelStates),
  /** Why the candidate could not be loaded (a structured code; the champion keeps serving). */
  error: modelLoadFailureSchema.optional(),
});
export type CandidateStatus = z.infer<typeof candidateStatusSchema>;

/** One model on one worker. */
export const servedModelStatusSchema = z.object({
  version: z.string().nullable(),
  sha256: z.string().nullable(),
  state: z.enum(modelStates),
  /** Last deployment this worker acted on for the model, and why it failed if it did. */
  deploymentId: z.string().optional(),
  error: modelLoadFailureSchema.optional(),
  /** The traffic plan's candidate, when the fleet has one for this model. */
  candidate: candidateStatusSchema.optional(),
});
export type ServedModelStatus = z.infer<typeof servedModelStatusSchema>;

export const workerStates = ['starting', 'ready', 'draining'] as const;
export type WorkerState = (typeof workerStates)[number];

/**
 * What each inference worker reports about itself. The key has a short TTL
 * refreshed by a heartbeat: it is also the worker's liveness, so a dead or
 * frozen worker's pending requests are reclaimed about a second after it stops.
 */
export const workerStatusSchema = z.object({
  workerId: z.string().min(1),
  state: z.enum(workerStates),
  models: z.record(z.string(), servedModelStatusSchema),
  /** True when the worker would take on a model it does not serve yet (SERVED_MODELS=* with room left). */
  acceptsNewModels: z.boolean().optional(),
  /** When this worker process started: a restart under the same id shows as a new value (commands sent before it were lost). */
  startedAt: z.number().optional(),
  updatedAt: z.number(),
});
export type WorkerStatus = z.infer<typeof workerStatusSchema>;

/** Load, verify and swap in `model` (on `workerId` only, or on every worker serving the model). */
export const deployCommandSchema = z.object({
  type: z.literal('deploy'),
  deploymentId: z.string().min(1),
  model: modelRefSchema,
  workerId: z.string().optional(),
});
/** Stop serving `model` (a first promotion that was compensated: there is nothing to go back to). */
export const unloadCommandSchema = z.object({
  type: z.literal('unload'),
  deploymentId: z.string().min(1),
  model: z.string().min(1),
  workerId: z.string().optional(),
});
/** Asks the fleet controller to compare `model`'s active entry with the registry now (the alias just moved). */
export const syncCommandSchema = z.object({ type: z.literal('sync'), model: z.string().min(1) });
export const fleetCommandSchema = z.discriminatedUnion('type', [deployCommandSchema, unloadCommandSchema, syncCommandSchema]);
export type DeployCommand = z.infer<typeof deployCommandSchema>;
export type UnloadCommand = z.infer<typeof unloadCommandSchema>;
export type FleetCommand = z.infer<typeof fleetCommandSchema>;

/** Held by the one rollout (or compensation) of a model in progress; workers leave that model to it. */
export const rolloutLeaseSchema = z.object({
  deploymentId: z.string().min(1),
  model: z.string().min(1),
  description: z.string(),
  acquiredAt: z.number(),
});
export type RolloutLease = z.infer<typeof rolloutLeaseSchema>;

/** Held by the one process that writes the fleet's `active` hash (the fleet controller). */
export const controllerLeaseSchema = z.object({ holder: z.string().min(1), acquiredAt: z.number() });
export type ControllerLease = z.infer<typeof controllerLeaseSchema>;

export class FleetProtocolError extends Error {
  readonly code = 'FLEET_VALUE_INVALID';
}

/** Parses a JSON value read from Redis with `schema`; throws FleetProtocolError naming `what` when it is not one. */
export function parseFleetValue<S extends z.ZodType>(schema: S, raw: string, what: string): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new FleetProtocolError(`${what} is not valid JSON`);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new FleetProtocolError(`invalid ${what}: ${z.prettifyError(result.error)}`);
  return result.data;
}

/**
 * The fleet's keys. `{fleet}` is a Redis Cluster hash tag: the fleet-wide keys share one slot, because the
 * controller's script writes `active`/`traffic` only while holding `controller` (one script, one slot), and the
 * worker index is pruned together with the statuses it lists. They are small and read a few times a second, so
 * one slot is no bottleneck. A rollout lease carries its model's tag instead (the slot of the model's request
 * stream). `commands` is a pub/sub channel, not a key: a cluster broadcasts it to every node.
 */
export const fleetKeys = (prefix: string) => ({
  commands: `${prefix}fleet:commands`,
  workerStatus: (workerId: string) => `${prefix}{fleet}:worker:${workerId}`,
  /**
   * SET of the ids of workers that published a status (each heartbeat adds its own): readers list the
   * fleet from it, never by scanning the keyspace, whose size grows with the prediction records.
   */
  workers: `${prefix}{fleet}:workers`,
  /** HASH model name -> JSON ActiveModel. Written by the fleet controller only. */
  active: `${prefix}{fleet}:active`,
  /** HASH model name -> JSON TrafficState (shadow/canary of a progressive rollout). Written by the fleet controller only. */
  traffic: `${prefix}{fleet}:traffic`,
  lease: (model: string) => `${prefix}rollout:{${model}}`,
  /** The fleet controller's lease: whoever holds it is the one writer of `active`. */
  controller: `${prefix}{fleet}:controller`,
});
