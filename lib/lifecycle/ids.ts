/**
 * Workflow ids with meaning. Pure, so workflows, the CLI and tests derive the
 * same id from the same facts.
 */

/** The one trainAndPromote a dataset digest may start through the data trigger. */
export function dataTriggerWorkflowId(modelName: string, digest: string): string {
  return `retrain-${modelName}-${digest}`;
}

/** Default Schedule ids, one per model and kind. */
export function scheduleId(modelName: string, kind: 'retrain' | 'data-trigger' | 'monitor'): string {
  return `${kind}-${modelName}`;
}
