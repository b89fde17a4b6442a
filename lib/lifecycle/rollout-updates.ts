/**
 * The Temporal Updates that steer a progressive rollout (`lifecycle
 * approve|abort|pause|resume`). Names and argument shape shared by the
 * workflow (workflows/rollout-control.ts) and the CLI; pure.
 */
import { z } from 'zod';

export const ROLLOUT_UPDATES = { approve: 'approve', abort: 'abort', pause: 'pause', resume: 'resume' } as const;
export type RolloutUpdateName = keyof typeof ROLLOUT_UPDATES;

export const rolloutUpdateArgSchema = z
  .object({
    /** Who asks (the CLI sends the OS user), recorded with the action. */
    by: z.string().max(200).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
export type RolloutUpdateArg = z.infer<typeof rolloutUpdateArgSchema>;
