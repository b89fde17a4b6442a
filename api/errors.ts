import { STATUS_CODES } from 'node:http';

/** An error the API answers with as is: a status, a stable code, a message safe to show. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Fastify's error body shape, used for every error response. */
export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

export const errorBody = (statusCode: number, code: string, message: string): ErrorBody => ({
  statusCode,
  code,
  error: STATUS_CODES[statusCode] ?? 'Error',
  message,
});

export const errorSchema = {
  $id: 'HttpError',
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

/**
 * The serving limits a client can run into. Their error messages name the limit and the environment
 * variable that sets it, so whoever reads the error knows both what to send instead and what to change.
 */
export interface ServingLimits {
  maxUploadBytes?: number;
  maxBatchFiles?: number;
  maxQueueLength?: number;
  requestTimeoutMs?: number;
}

const MIB = 1024 * 1024;

/** 5242880 -> "5 MiB (5242880 bytes)"; a size that is not a whole number of MiB stays in bytes. */
export function formatBytes(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

const limitOf = (value: number | undefined, unit: (v: number) => string, variable: string): string =>
  value === undefined ? `the limit set by ${variable}` : `the limit of ${unit(value)} set by ${variable}`;

export const limitMessages = {
  uploadTooLarge: (l: ServingLimits) => `The uploaded file is larger than ${limitOf(l.maxUploadBytes, formatBytes, 'MAX_UPLOAD_BYTES')}`,
  tooManyFiles: (l: ServingLimits, batch: boolean) => {
    const most = l.maxBatchFiles === undefined ? 'at most the limit set by MAX_BATCH_FILES' : `at most ${l.maxBatchFiles}, the limit set by MAX_BATCH_FILES`;
    return batch ? `Too many images in one request: POST /predict/batch takes ${most}` : `POST /predict takes one image; send several to /predict/batch (${most})`;
  },
  queueFull: (l: ServingLimits, backlog: number, retryAfterSeconds: number) =>
    `The inference queue is full: ${backlog} requests waiting, ${limitOf(l.maxQueueLength, (n) => `${n}`, 'MAX_QUEUE_LENGTH')}; retry in ${retryAfterSeconds}s`,
  deadline: (l: ServingLimits, timeoutMs: number) =>
    `No inference result within ${limitOf(l.requestTimeoutMs ?? timeoutMs, (ms) => `${ms} ms`, 'REQUEST_TIMEOUT_MS')}`,
};
