/** JSON Schemas of the /v2 routes (validation, serialisation, OpenAPI), generated from the zod schemas of lib/oip/protocol.ts. */
import { z } from 'zod';
import {
  errorResponseSchema,
  inferenceRequestSchema,
  inferenceResponseSchema,
  modelMetadataResponseSchema,
  modelReadySchema,
  readySchema,
  serverLiveSchema,
  serverMetadataResponseSchema,
} from '../../../lib/oip/protocol';

/** Draft-07 (Fastify's Ajv), without the `$schema` keyword; a fresh object per call (Fastify annotates schemas). */
export function jsonSchema(schema: z.ZodType, description?: string): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-7' });
  return description ? { ...rest, description } : rest;
}

export const oipSchemas = {
  error: () => jsonSchema(errorResponseSchema, 'The protocol\'s error object: error, the message; code, Lifecycle\'s stable code'),
  live: () => jsonSchema(serverLiveSchema),
  ready: () => jsonSchema(readySchema),
  modelReady: () => jsonSchema(modelReadySchema),
  server: () => jsonSchema(serverMetadataResponseSchema),
  model: () => jsonSchema(modelMetadataResponseSchema),
  inferRequest: () =>
    jsonSchema(
      inferenceRequestSchema,
      'One input: image (BYTES [N], each element an encoded image file: base64 in JSON, raw with the binary tensor data extension) ' +
        'or pixels (UINT8 [N,H,W,C] at the model\'s input geometry). Outputs: probabilities (FP32 [N,K], label order) and label (BYTES [N], top-1). ' +
        'With the binary tensor data extension the body is this JSON followed by the binary tensors, its length in the Inference-Header-Content-Length header.',
    ),
  inferResponse: () => jsonSchema(inferenceResponseSchema),
};

export const modelParams = {
  type: 'object',
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256, description: 'Registered model name' },
    version: { type: 'string', minLength: 1, maxLength: 64, description: 'Model version (only the served one is accepted)' },
  },
} as const;
