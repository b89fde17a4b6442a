/**
 * What trainer/monitor_drift.py prints and writes as drift.json: the one schema both the
 * monitoring activity and its readers parse, types derived from it.
 */
import { z } from 'zod';

const featureDriftSchema = z.object({
  kind: z.enum(['numerical', 'categorical']),
  /** Effect size: normalised Wasserstein-1 (numerical) or Jensen-Shannon distance (categorical). */
  distance: z.number().nullable(),
  distance_name: z.string(),
  test: z.string(),
  p_value: z.number().nullable(),
  drifted: z.boolean(),
});

export const driftResultSchema = z.object({
  model: z.string(),
  version: z.string(),
  window: z.object({ since: z.string(), until: z.string() }),
  rows: z.number().int(),
  reference_rows: z.number().int(),
  /** `insufficient_data`: fewer than `settings.min_rows` logged requests in the window; nothing is judged. */
  status: z.enum(['ok', 'insufficient_data']),
  drift: z.boolean(),
  drifted_share: z.number(),
  settings: z.object({ threshold: z.number(), alpha: z.number(), drift_share: z.number(), min_rows: z.number().int() }),
  features: z.record(z.string(), featureDriftSchema),
});
export type DriftResult = z.infer<typeof driftResultSchema>;

/** Settings of one drift check (the script's flags), with their defaults. */
export const driftSettingsSchema = z
  .object({
    /** The live window: the last this-many minutes of the payload log. */
    windowMinutes: z.number().int().positive().max(7 * 24 * 60).default(60),
    /** A feature drifts when its distance exceeds this... */
    threshold: z.number().positive().default(0.1),
    /** ...and its test is significant at this level. */
    alpha: z.number().gt(0).lt(1).default(0.05),
    /** The window drifts when at least this share of its features drift. */
    driftShare: z.number().gt(0).max(1).default(0.5),
    /** Fewer logged requests than this in the window: not judged. */
    minRows: z.number().int().positive().default(200),
    /** At most this many of the newest requests are compared. */
    maxRows: z.number().int().positive().max(100_000).default(5000),
  })
  .strict();
export type DriftSettings = z.output<typeof driftSettingsSchema>;
