import { z } from 'zod';
import type { Prediction } from '../model/postprocess';
import type { InferenceFailureCode } from './errors';

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
  /** Name of the model whose metadata the API preprocessed with. */
  model: string;
  /** Shape of `tensor`, batch dimension first ([1, C, H, W]). */
  dims: number[];
  tensor: Float32Array;
}

export interface InferenceSuccess {
  id: string;
  ok: true;
  model: { name: string; version: string };
  predictions: Prediction[];
}

export interface InferenceFailure {
  id: string;
  ok: false;
  code: InferenceFailureCode;
  message: string;
}

export type InferenceReply = InferenceSuccess | InferenceFailure;

export class MessageDecodeError extends Error {
  readonly code = 'MESSAGE_INVALID';
}

/**
 * Stream fields of a request. The tensor travels as raw little-endian float32
 * bytes (3 KiB for 28x28) instead of JSON numbers, which would be ~4x larger
 * and cost a parse on both sides.
 */
export function encodeRequest(req: InferenceRequest): Array<string | Buffer> {
  return [
    'id', req.id,
    'rid', req.requestId,
    'reply', req.replyTo,
    'deadline', String(Math.round(req.deadline)),
    'enq', String(Math.round(req.enqueuedAt)),
    'model', req.model,
    'dims', req.dims.join(','),
    'tensor', Buffer.from(req.tensor.buffer, req.tensor.byteOffset, req.tensor.byteLength),
  ]; // prettier-ignore
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

export function decodeRequest(fields: Map<string, Buffer>): InferenceRequest {
  const dims = text(fields, 'dims').split(',').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d <= 0)) throw new MessageDecodeError('request dims are invalid');
  const raw = fields.get('tensor');
  if (raw === undefined || raw.byteLength % 4 !== 0) throw new MessageDecodeError('request tensor is missing or not float32');
  // Copy into a fresh, 4-byte aligned buffer: a Buffer from the socket may start at any offset.
  const tensor = new Float32Array(raw.byteLength / 4);
  new Uint8Array(tensor.buffer).set(raw);
  if (tensor.length !== dims.reduce((a, b) => a * b, 1)) throw new MessageDecodeError('request tensor does not match its dims');
  return {
    id: text(fields, 'id'),
    requestId: text(fields, 'rid'),
    replyTo: text(fields, 'reply'),
    deadline: int(fields, 'deadline'),
    enqueuedAt: int(fields, 'enq'),
    model: text(fields, 'model'),
    dims,
    tensor,
  };
}

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
    code: z.enum(['MODEL_MISMATCH', 'INVALID_REQUEST', 'INFERENCE_FAILED']),
    message: z.string(),
  }),
]);

/** A reply is one JSON field: small, and read by exactly one process. */
export function encodeReply(reply: InferenceReply): string[] {
  return ['r', JSON.stringify(reply)];
}

export function decodeReply(fields: Map<string, Buffer>): InferenceReply {
  const raw = fields.get('r');
  if (raw === undefined) throw new MessageDecodeError('reply entry lacks field r');
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new MessageDecodeError('reply is not JSON');
  }
  const parsed = replySchema.safeParse(json);
  if (!parsed.success) throw new MessageDecodeError(`reply is malformed: ${parsed.error.message}`);
  return parsed.data;
}
