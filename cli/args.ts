import type { TrainingParams } from '../lib/lifecycle/types';

/** A CLI usage error: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** Trainer params from `--params '{"epochs":4}'` and repeated `--param epochs=4` (numbers and booleans coerced). */
export function parseParams(json: string | undefined, pairs: string[] | undefined): TrainingParams {
  let params: TrainingParams = {};
  if (json) {
    try {
      params = JSON.parse(json) as TrainingParams;
    } catch (err) {
      throw new UsageError(`--params is not JSON: ${(err as Error).message}`);
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new UsageError('--params must be a JSON object');
  }
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param ${pair}: expected key=value`);
    const raw = pair.slice(eq + 1);
    params[pair.slice(0, eq)] = /^(true|false|null|-?\d+(\.\d+)?(e-?\d+)?)$/i.test(raw) ? (JSON.parse(raw.toLowerCase()) as TrainingParams[string]) : raw;
  }
  return params;
}

/** Parses a JSON option, naming it in the error. */
export function parseJsonOption<T>(name: string, value: string | undefined): T | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as T;
  } catch (err) {
    throw new UsageError(`--${name} is not JSON: ${(err as Error).message}`);
  }
}

/** A workflow id that sorts by time and says what it is. */
export function timestampedId(prefix: string, now = new Date()): string {
  return `${prefix}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-')}`;
}
