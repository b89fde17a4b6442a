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
