import { z } from 'zod';
import { envField } from '../env';

/** A comma-separated list of names (empty = none). */
const nameList = () =>
  z
    .string()
    .default('')
    .transform((s) => s.split(',').map((n) => n.trim()).filter(Boolean));

/**
 * API settings of the payload log and feedback (spread into the API's config schema).
 * Memory of the prediction records: ~300 bytes per answered image for FEEDBACK_WINDOW_SECONDS,
 * e.g. 20 requests/s for a day = 1.7M records ≈ 0.5 GB; size the window for your traffic.
 */
export const payloadLogApiFields = {
  /** Share of requests (0..1) marked for the payload log (the answering worker writes them); 0 = none. */
  PAYLOAD_LOG_SAMPLE: z.coerce.number().min(0).max(1).default(0.1),
  /** Models whose payloads are never logged (payloads are user data); comma-separated names. */
  PAYLOAD_LOG_DISABLED_MODELS: nameList(),
  /** How long a prediction can receive feedback (its record's TTL in Redis). */
  FEEDBACK_WINDOW_SECONDS: envField.positiveInt(86_400),
  /** Bound of each model's feedback stream: past it POST /feedback answers 503 (feedback is never dropped). */
  FEEDBACK_STREAM_MAX_LENGTH: envField.positiveInt(100_000),
  /** Outcomes per version in the rolling window behind lifecycle_live_accuracy. */
  LIVE_ACCURACY_WINDOW: envField.positiveInt(500),
  /** Feedback credentials: `name:role:token,...` (role `labeller` may post feedback; tokens ≥ 16 characters). */
  FEEDBACK_TOKENS: z.string().default(''),
  /** A file with the same `name:role:token` entries (one per line or comma-separated), e.g. a mounted secret. */
  FEEDBACK_TOKENS_FILE: z.string().default(''),
};

const payloadLogApiSchema = z.object(payloadLogApiFields);
export type PayloadLogApiConfig = z.infer<typeof payloadLogApiSchema>;

/** The defaults, for callers (tests, the in-process bench) that build an app without the environment. */
export const payloadLogDefaults = (): PayloadLogApiConfig => payloadLogApiSchema.parse({});
