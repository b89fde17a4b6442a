/**
 * Narrow parsers for stream replies of ioredis's `*Buffer` commands. Their
 * declared types cover RESP2 and RESP3 shapes at once; we connect with the
 * default (RESP2-compatible "legacy") reply mapping and check the shape here
 * instead of casting.
 */

export interface StreamEntry {
  id: string;
  /** null when the entry was deleted but is still referenced (e.g. in a pending list). */
  fields: Map<string, Buffer> | null;
}

const asText = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

function toFields(raw: unknown): Map<string, Buffer> | null {
  if (!Array.isArray(raw)) return null;
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const value: unknown = raw[i + 1];
    fields.set(asText(raw[i]), Buffer.isBuffer(value) ? value : Buffer.from(asText(value)));
  }
  return fields;
}

/** `[[id, [field, value, ...]], ...]` */
export function parseEntries(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(Array.isArray).map((item: unknown[]) => ({ id: asText(item[0]), fields: toFields(item[1]) }));
}

/** XREAD / XREADGROUP: `[[key, entries], ...]` or null on timeout. Entries of all keys, in order. */
export function parseReadReply(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(Array.isArray).flatMap((perKey: unknown[]) => parseEntries(perKey[1]));
}

/** XAUTOCLAIM: `[nextCursor, entries, deletedIds]`. */
export function parseAutoClaimReply(raw: unknown): { cursor: string; entries: StreamEntry[] } {
  if (!Array.isArray(raw)) return { cursor: '0-0', entries: [] };
  return { cursor: asText(raw[0]), entries: parseEntries(raw[1]) };
}
