import { renderProgress } from '../../lib/lifecycle/progress-view';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA, OUTCOMES, keywordClause, type LifecycleOutcome } from '../../lib/lifecycle/search-attributes';
import { snapshot } from '../../lib/temporal/watch-workflow';
import { UsageError } from '../args';
import type { CliContext } from '../config';
import { exitCodeOf, followInTerminal } from '../follow';

export const statusOptions = {
  'workflow-id': { type: 'string' },
  follow: { type: 'boolean' },
  outcome: { type: 'string' },
  version: { type: 'string' },
  dataset: { type: 'string' },
  limit: { type: 'string' },
} as const;

export interface StatusValues {
  'workflow-id'?: string;
  follow?: boolean;
  outcome?: string;
  version?: string;
  dataset?: string;
  limit?: string;
}

const LIFECYCLE_TYPES = ['trainAndPromote', 'train-and-promote', 'promoteVersion', 'checkDatasetUpdates'];

/**
 * The visibility query of `status`: lifecycle workflow types, narrowed by the
 * search attributes the workflows set (model only when --model is given, so
 * executions from before the attributes existed still show by default).
 */
export function statusQuery(v: StatusValues, model: string | undefined): string {
  const clauses = [`WorkflowType IN (${LIFECYCLE_TYPES.map((t) => `'${t}'`).join(', ')})`];
  if (model) clauses.push(keywordClause(SA.model.name, model));
  if (v.outcome) {
    if (!OUTCOMES.includes(v.outcome as LifecycleOutcome)) throw new UsageError(`--outcome must be one of ${OUTCOMES.join(', ')}`);
    clauses.push(keywordClause(SA.outcome.name, v.outcome));
  }
  if (v.version) {
    if (!/^\d+$/.test(v.version)) throw new UsageError('--version must be a version number');
    clauses.push(`${SA.version.name} = ${v.version}`);
  }
  if (v.dataset) {
    // A DVC path (has a slash) or a dataset digest.
    clauses.push(keywordClause(v.dataset.includes('/') ? SA.datasetPath.name : SA.datasetDigest.name, v.dataset));
  }
  return clauses.join(' AND ');
}

/** `lifecycle status`: one workflow's progress (`--follow` to watch it), or the champion and the recent lifecycle workflows with their story. */
export async function status(ctx: CliContext, v: StatusValues): Promise<number> {
  const client = await ctx.temporal();
  if (v['workflow-id']) {
    const handle = client.workflow.getHandle(v['workflow-id']);
    if (v.follow) return exitCodeOf(await followInTerminal(handle));
    for (const line of renderProgress(await snapshot(handle))) console.log(line);
    return 0;
  }
  const query = statusQuery(v, ctx.modelGiven ? ctx.model : undefined);
  const limit = v.limit ? Number(v.limit) : 15;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
  const champion = await ctx.mlflow.getModelVersionByAlias(ctx.model, 'champion');
  console.log(champion ? `${ctx.model}: champion v${champion.version}` : `${ctx.model}: no champion yet`);
  console.log(`\nrecent lifecycle workflows (${query}):`);
  let shown = 0;
  for await (const wf of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    const story = wf.typedSearchAttributes.get(SA.summary);
    const outcome = wf.typedSearchAttributes.get(SA.outcome);
    console.log(`  ${wf.status.name.padEnd(11)} ${(outcome ?? '-').padEnd(11)} ${wf.type.padEnd(20)} ${wf.workflowId}  ${wf.startTime.toISOString()}`);
    if (story) console.log(`      ${story}`);
    if (++shown >= limit) break;
  }
  if (shown === 0) console.log('  (none)');
  return 0;
}
