import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { LIFECYCLE_SEARCH_ATTRIBUTES } from './search-attributes';

const INDEXED: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
};

/**
 * Registers the lifecycle's search attributes on `namespace` when they are
 * missing (what `temporal operator search-attribute create` does; a self-hosted
 * server or the dev server, not Temporal Cloud, whose namespaces are changed
 * through its own tools). Returns the names it added.
 */
export async function ensureLifecycleSearchAttributes(connection: Connection, namespace = 'default'): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
  const missing = Object.values(LIFECYCLE_SEARCH_ATTRIBUTES).filter((k) => !known.has(k.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED[k.type]!])) });
  return missing.map((k) => k.name);
}
