import { renderProgress } from '../../lib/lifecycle/progress-view';
import { snapshot } from '../../lib/temporal/watch-workflow';
import type { CliContext } from '../config';
import { exitCodeOf, followInTerminal } from '../follow';

export const statusOptions = { 'workflow-id': { type: 'string' }, follow: { type: 'boolean' } } as const;

const LIFECYCLE_TYPES = ['trainAndPromote', 'train-and-promote', 'promoteVersion', 'checkDatasetUpdates'];

/** `lifecycle status`: one workflow's progress (`--follow` to watch it), or the champion and the recent lifecycle workflows. */
export async function status(ctx: CliContext, v: { 'workflow-id'?: string; follow?: boolean }): Promise<number> {
  const client = await ctx.temporal();
  if (v['workflow-id']) {
    const handle = client.workflow.getHandle(v['workflow-id']);
    if (v.follow) return exitCodeOf(await followInTerminal(handle));
    for (const line of renderProgress(await snapshot(handle))) console.log(line);
    return 0;
  }
  const champion = await ctx.mlflow.getModelVersionByAlias(ctx.model, 'champion');
  console.log(champion ? `${ctx.model}: champion v${champion.version}` : `${ctx.model}: no champion yet`);
  console.log('\nrecent lifecycle workflows:');
  const query = `WorkflowType IN (${LIFECYCLE_TYPES.map((t) => `'${t}'`).join(', ')})`;
  let shown = 0;
  for await (const wf of client.workflow.list({ query, pageSize: 20 })) {
    console.log(`  ${wf.status.name.padEnd(11)} ${wf.type.padEnd(20)} ${wf.workflowId}  ${wf.startTime.toISOString()}`);
    if (++shown >= 15) break;
  }
  if (shown === 0) console.log('  (none)');
  return 0;
}
