/**
 * The custom search attributes the lifecycle workflows set, so the Temporal UI's
 * Workflows list and `temporal workflow list --query` can show and filter
 * executions by model, data, resulting version and outcome. Pure definitions:
 * the workflow bundle imports them. A namespace must have them registered
 * before a lifecycle workflow runs (the dev server of the local stack and the
 * tests register them at start; README "Temporal search attributes" for a
 * production namespace): upserting an unknown attribute fails the workflow task.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const LIFECYCLE_SEARCH_ATTRIBUTES = {
  /** Registered model name, e.g. fashion-mnist-classifier. */
  model: defineSearchAttributeKey('LifecycleModel', SearchAttributeType.KEYWORD),
  /** DVC dataset path, e.g. dvc/data/fashion-mnist-v2. */
  datasetPath: defineSearchAttributeKey('LifecycleDatasetPath', SearchAttributeType.KEYWORD),
  /** DVC md5 of the dataset directory (the digest MLflow records as the run's input). */
  datasetDigest: defineSearchAttributeKey('LifecycleDatasetDigest', SearchAttributeType.KEYWORD),
  /** The registered version the execution produced (trainAndPromote) or promoted (promoteVersion). */
  version: defineSearchAttributeKey('LifecycleVersion', SearchAttributeType.INT),
  /** How the execution ended: see LifecycleOutcome. */
  outcome: defineSearchAttributeKey('LifecycleOutcome', SearchAttributeType.KEYWORD),
  /**
   * The execution's one-line story (lib/lifecycle/story.ts). Temporal UI 2.54's Workflows list has no
   * column for user-metadata summaries, but shows any search attribute as a column: this one makes
   * the list read without opening each execution.
   */
  summary: defineSearchAttributeKey('LifecycleSummary', SearchAttributeType.TEXT),
} as const;

/**
 * promoted: the version became champion; rejected: the gate said no;
 * rolled-back: `lifecycle rollback` made an earlier version champion again;
 * failed / cancelled: the execution ended without a decision that stuck
 * (the saga compensated whatever it had moved).
 */
export const OUTCOMES = ['promoted', 'rejected', 'rolled-back', 'failed', 'cancelled'] as const;
export type LifecycleOutcome = (typeof OUTCOMES)[number];

/** `temporal operator search-attribute create` / `server start-dev --search-attribute` arguments: NAME=Type. */
export function searchAttributeSpecs(): string[] {
  const cli: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int', TEXT: 'Text' };
  return Object.values(LIFECYCLE_SEARCH_ATTRIBUTES).map((k) => `${k.name}=${cli[k.type]}`);
}

/** A list-filter clause for a Keyword attribute, quoted for Temporal's SQL-like visibility queries. */
export function keywordClause(name: string, value: string): string {
  return `${name} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
