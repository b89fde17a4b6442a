import { z } from 'zod';
import type { Prediction } from '../model/postprocess';

/**
 * What a request carries to the worker: either pixels the API already decoded
 * and resized (uint8, interleaved HWC, with the geometry they were made for),
 * or the encoded upload itself (DECODE_IN=worker). Normalisation never travels:
 * the worker applies the metadata of the model that actually runs the batch.
 */
export type RequestInput =
  | { kind: 'pixels'; pixels: Uint8Array; height: number; width: number; channels: number }
  | { kind: 'image'; image: Uint8Array };

/**
 * How a request of a progressive rollout is served (absent: the champion answers and nothing else runs).
 * canary: the candidate answers; canary-mirror: the candidate answers and the champion also runs it after
 * the reply (agreement); shadow: the champion answers and the candidate also runs it after the reply.
 */
export const REQUEST_VARIANTS = ['canary', 'canary-mirror', 'shadow'] as const;
export type RequestVariant = (typeof REQUEST_VARIANTS)[number];
const isVariant = (v: string): v is RequestVariant => (REQUEST_VARIANTS as readonly string[]).includes(v);

/** One example waiting for inference, as an API instance enqueues it. */
export interface InferenceRequest {
  /** Correlation id of this attempt, unique per enqueue (a client's x-request-id may repeat, this may not). */
  id: string;
  /** The HTTP request id, for logs on the worker side. */
  requestId: string;
  /** Reply stream key of the API instance waiting for the answer. */
  replyTo: string;
  /** Epoch ms after which nobody waits for the answer; workers skip the entry. */
  deadline: number;
  enqueuedAt: number;
  /** Registered model name the request is for (its stream's model). */
  model: string;
  input: RequestInput;
  variant?: RequestVariant;
  /** With a variant: the candidate version the API routed to (a worker holding another one answers with the champion). */
  candidateVersion?: string;
  /**
   * How many of the most probable classes to answer with (default 5). The Open Inference Protocol asks for
   * every class (its `probabilities` output); /predict keeps the default, so its replies stay small.
   */
  k?: number;
  /**
   * Sampled for the payload log (the API decides: PAYLOAD_LOG_SAMPLE, or every request of a rollout step):
   * the worker that answers writes the input as its model saw it to the model's payload stream.
   */
  log?: boolean;
}

/** Failure codes a worker answers with; the API maps each to one HTTP status. */
export const INFERENCE_FAILURE_CODES = ['INVALID_REQUEST', 'INFERENCE_FAILED', 'UNSUPPORTED_IMAGE', 'IMAGE_CORRUPT', 'IMAGE_TOO_LARGE'] as const;
export type InferenceFailureCode = (typeof INFERENCE_FAILURE_CODES)[number];

const replySchema = z.discriminatedUnion('ok', [
  z.object({
    id: z.string(),
    ok: z.literal(true),
    model: z.object({ name: z.string(), version: z.string() }),
    predictions: z.array(z.object({ label: z.string(), probability: z.number() })),
  }),
  z.object({
    id: z.string(),
    ok: z.literal(false),
    code: z.enum(INFERENCE_FAILURE_CODES),
    message: z.string(),
  }),
]);

export type InferenceReply = z.infer<typeof replySchema>;
export type InferenceSuccess = Extract<InferenceReply, { ok: true }> & { predictions: Prediction[] };
export type InferenceFailure = Extract<InferenceReply, { ok: false }>;

export class MessageDecodeError extends Error {
  readonly code = 'MESSAGE_INVALID';
}

/** Raw bytes travel as binary stream fields: no JSON, no base64, ~1 byte per pixel. */
const bytes = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export function encodeRequest(req: InferenceRequest): Array<string | Buffer> {
  const head = [
    'id', req.id,
    'rid', req.requestId,
    'reply', req.replyTo,
    'deadline', String(Math.round(req.deadline)),
    'enq', String(Math.round(req.enqueuedAt)),
    'model', req.model,
  ]; // prettier-ignore
  // Only requests of a progressive rollout carry these: the plain path stays as it was.
  if (req.variant) head.push('var', req.variant, 'cv', req.candidateVersion ?? '');
  if (req.k !== undefined) head.push('k', String(req.k));
  if (req.log) head.push('log', '1');
  const { input } = req;
  if (input.kind === 'image') return [...head, 'img', bytes(input.image)];
  return [...head, 'geo', `${input.height},${input.width},${input.channels}`, 'px', bytes(input.pixels)];
}

function text(fields: Map<string, Buffer>, name: string): string {
  const value = fields.get(name);
  if (value === undefined) throw new MessageDecodeError(`request entry lacks field ${name}`);
  return value.toString('utf8');
}

function int(fields: Map<string, Buffer>, name: string): number {
  const value = Number(text(fields, name));
  if (!Number.isSafeInteger(value)) throw new MessageDecodeError(`request field ${name} is not an integer`);
  return value;
}

function decodeInput(fields: Map<string, Buffer>): RequestInput {
  const image = fields.get('img');
  if (image !== undefined) return { kind: 'image', image };
  const [height, width, channels] = text(fields, 'geo').split(',').map(Number);
  if (![height, width, channels].every((d) => Number.isSafeInteger(d) && d! > 0) || (channels !== 1 && channels !== 3)) {
    throw new MessageDecodeError('request geometry is invalid');
  }
  const pixels = fields.get('px');
  if (pixels === undefined || pixels.byteLength !== height! * width! * channels) throw new MessageDecodeError('request pixels do not match their geometry');
  return { kind: 'pixels', pixels, height: height!, width: width!, channels: channels };
}

function decodeVariant(fields: Map<string, Buffer>): Pick<InferenceRequest, 'variant' | 'candidateVersion'> {
  const raw = fields.get('var');
  if (raw === undefined) return {};
  const variant = raw.toString('utf8');
  if (!isVariant(variant)) throw new MessageDecodeError(`request variant ${variant} is not one of ${REQUEST_VARIANTS.join(', ')}`);
  const candidateVersion = text(fields, 'cv');
  if (!candidateVersion) throw new MessageDecodeError('a request with a variant names no candidate version');
  return { variant, candidateVersion };
}

/** The optional top-k: absent on requests that want the default. */
function topK(fields: Map<string, Buffer>): { k?: number } {
  if (!fields.has('k')) return {};
  const k = int(fields, 'k');
  if (k < 1) throw new MessageDecodeError('request field k must be at least 1');
  return { k };
}

export function decodeRequest(fields: Map<string, Buffer>): InferenceRequest {
  return {
    ...decodeVariant(fields),
    id: text(fields, 'id'),
    requestId: text(fields, 'rid'),
    replyTo: text(fields, 'reply'),
    deadline: int(fields, 'deadline'),
    enqueuedAt: int(fields, 'enq'),
    model: text(fields, 'model'),
    input: decodeInput(fields),
    ...topK(fields),
    ...(fields.get('log')?.toString('utf8') === '1' ? { log: true } : {}),
  };
}

/**
 * The replies of one batch that go to the same API instance travel as one
 * stream entry (a JSON array in field r): one XADD per API instance and batch
 * instead of one per request.
 */
export function encodeReplies(replies: InferenceReply[]): string[] {
  return ['r', JSON.stringify(replies)];
}

export function decodeReplies(fields: Map<string, Buffer>): InferenceReply[] {
  const raw = fields.get('r');
  if (raw === undefined) throw new MessageDecodeError('reply entry lacks field r');
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new MessageDecodeError('reply is not JSON');
  }
  const parsed = z.array(replySchema).safeParse(json);
  if (!parsed.success) throw new MessageDecodeError(`reply is malformed: ${parsed.error.message}`);
  return parsed.data;
}
