import { createHash } from 'node:crypto';

/** The identity of a model file: the registry records it, rollouts and workers verify it. */
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
