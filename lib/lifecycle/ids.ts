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

/** The one automatic curation a champion version may start (the monitor's policy, on drift or a live-accuracy drop). */
export function policyCurationWorkflowId(modelName: string, version: string): string {
  return `curate-${modelName}-v${version}`;
}

/** The data check a curated dataset version starts (once per digest). */
export function curatedDataCheckWorkflowId(modelName: string, digest: string): string {
  return `data-check-curated-${modelName}-${digest}`;
}
