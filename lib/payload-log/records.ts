/**
 * What the payload log keeps, one schema per shape (types derived from them):
 * the prediction record every answered request leaves for feedback joining,
 * the feedback stored against it, and the two stream entries the logger turns
 * into Parquet rows. Values read back from Redis are parsed with these.
 */
import { z } from 'zod';
import type { Pixels } from '../model/preprocess';
import type { StreamEntry } from '../queue/stream-entries';

export const topKSchema = z.array(z.object({ label: z.string(), probability: z.number() }));
export type TopK = z.infer<typeof topKSchema>;

/**
 * A prediction record: about 150 bytes of JSON (version, epoch ms, top-5 with 4-digit
 * probabilities) plus the key (~70 bytes) and Redis's per-key overhead with a TTL (~70 bytes):
 * roughly 300 bytes per answered image. Short field names on purpose: there is one per request.
 */
export const predictionRecordSchema = z.object({
  /** The version that answered. */
  v: z.string().min(1),
  /** Answered at (epoch ms). */
  t: z.number(),
  /** top-k, best first (k[0] is the top-1). */
  k: topKSchema.min(1),
});
export type PredictionRecord = z.infer<typeof predictionRecordSchema>;

/** Feedback stored against a prediction: the true label, who said so and when. */
export const feedbackRecordSchema = z.object({
  label: z.string(),
  /** The name of the credential that labelled it. */
  by: z.string(),
  at: z.number(),
});
export type FeedbackRecord = z.infer<typeof feedbackRecordSchema>;

const jsonField = <T extends z.ZodType>(schema: T, what: string) =>
  z.string().transform((s, ctx): z.infer<T> | typeof z.NEVER => {
    const parsed = schema.safeParse(JSON.parse(s));
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: 'custom', message: `${what} is invalid` });
    return z.NEVER;
  });

/** A sampled request as the answering worker puts it on the stream and as it lands in Parquet: the pixels its model ran on. */
export const payloadEntrySchema = z.object({
  request_id: z.string().min(1),
  model: z.string().min(1),
  version: z.string().min(1),
  ts: z.coerce.number(),
  top_k: jsonField(topKSchema, 'top_k'),
  latency_ms: z.coerce.number(),
  height: z.coerce.number().int().positive(),
  width: z.coerce.number().int().positive(),
  channels: z.coerce.number().int().positive(),
  pixels: z.instanceof(Buffer),
});
export type PayloadEntry = z.infer<typeof payloadEntrySchema>;

/** Decoded pixels as a payload entry's geometry and pixel fields (the bytes shared, not copied). */
export function pixelFields(pixels: Pixels): Pick<PayloadEntry, 'height' | 'width' | 'channels' | 'pixels'> {
  return { height: pixels.height, width: pixels.width, channels: pixels.channels, pixels: Buffer.from(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength) };
}

/** Accepted feedback joined to its prediction, as it travels on the feedback stream and lands in Parquet. */
export const feedbackEntrySchema = z.object({
  request_id: z.string().min(1),
  model: z.string().min(1),
  version: z.string().min(1),
  ts: z.coerce.number(),
  label: z.string().min(1),
  predicted: z.string().min(1),
  correct: z.enum(['0', '1']).transform((s) => s === '1'),
  labelled_by: z.string().min(1),
  predicted_at: z.coerce.number(),
});
export type FeedbackEntry = z.infer<typeof feedbackEntrySchema>;

type Fields = Record<string, string | number | Buffer | boolean>;

/** Flattens an entry into XADD field/value arguments (binary values stay binary). */
export function toStreamFields(entry: Fields): Array<string | Buffer> {
  return Object.entries(entry).flatMap(([k, v]) => [k, Buffer.isBuffer(v) ? v : typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]);
}

/** Parses a stream entry with `schema`; binary fields stay Buffers, every other field is read as UTF-8. */
export function fromStreamEntry<S extends z.ZodObject>(schema: S, entry: StreamEntry, binary: readonly string[] = []): z.infer<S> | null {
  if (!entry.fields) return null;
  const raw: Record<string, unknown> = {};
  for (const [k, v] of entry.fields) raw[k] = binary.includes(k) ? v : v.toString('utf8');
  try {
    const parsed = schema.safeParse(raw);
    return parsed.success ? parsed.data : null;
  } catch {
    return null; // malformed JSON inside a field
  }
}
