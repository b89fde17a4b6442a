import { z } from 'zod';
import type { ActiveModel } from '../fleet/protocol';
import { modelMetadataSchema } from './metadata';

export const modelRefSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, 'sha256 must be 64 hex digits')
    .transform((s) => s.toLowerCase()),
  artifactUri: z.string().min(1),
});

const activeModelSchema = modelRefSchema.extend({ metadata: modelMetadataSchema });

export class ActiveModelError extends Error {
  readonly code = 'ACTIVE_MODEL_INVALID';
}

/** Parses the JSON stored under the fleet's `active` key; throws ActiveModelError when it is not a valid ActiveModel. */
export function parseActiveModel(json: string): ActiveModel {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ActiveModelError('active model is not valid JSON');
  }
  const result = activeModelSchema.safeParse(value);
  if (!result.success) throw new ActiveModelError(`invalid active model: ${z.prettifyError(result.error)}`);
  return result.data;
}
