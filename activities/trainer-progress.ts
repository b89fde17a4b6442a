/** One progress line of the trainer contract: a JSON object per stdout line. */
export interface TrainerEvent {
  event?: string;
  epoch?: number;
  epochs?: number;
  step?: number;
  loss?: number;
  [key: string]: unknown;
}

/** Parses a trainer stdout line; anything that is not a JSON object is not progress and is ignored. */
export function parseProgressLine(line: string): TrainerEvent | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as TrainerEvent) : null;
  } catch {
    return null;
  }
}
