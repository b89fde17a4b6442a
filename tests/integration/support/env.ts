import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

export const ROOT = resolve(__dirname, '../../..');
export const VENV_BIN = resolve(ROOT, '.venv/bin');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
/** The dev server's web UI (stackctl env exports it beside TEMPORAL_ADDRESS). */
export const TEMPORAL_UI_URL = process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
export const MLFLOW_TRACKING_URI = process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000';

/** A short unique suffix, so tests sharing one Redis/Temporal/MLflow never see each other's keys, queues or models. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
