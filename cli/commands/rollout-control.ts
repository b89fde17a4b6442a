import { userInfo } from 'node:os';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA, keywordClause } from '../../lib/lifecycle/search-attributes';
import { ROLLOUT_UPDATES, type RolloutUpdateArg, type RolloutUpdateName } from '../../lib/lifecycle/rollout-updates';
import { UsageError } from '../args';
import type { CliContext } from '../config';

export const rolloutControlOptions = { reason: { type: 'string' }, 'workflow-id': { type: 'string' } } as const;

interface ControlValues {
  reason?: string;
  'workflow-id'?: string;
}

const PROMOTING_TYPES = ['trainAndPromote', 'train-and-promote', 'promoteVersion'];

/** The running promotion of `model`, newest first, found through the LifecycleModel search attribute. */
export async function runningPromotion(client: Client, model: string): Promise<string | null> {
  const query = `WorkflowType IN (${PROMOTING_TYPES.map((t) => `'${t}'`).join(', ')}) AND ${keywordClause(SA.model.name, model)} AND ExecutionStatus = 'Running'`;
  for await (const wf of client.workflow.list({ query, pageSize: 1 })) return wf.workflowId;
  return null;
}

/**
 * `lifecycle approve|abort|pause|resume [--model NAME] [--reason TEXT]`: executes the Update on the
 * model's running promotion and prints its answer, or the validator's refusal (exit 1).
 */
export async function rolloutControl(ctx: CliContext, action: RolloutUpdateName, v: ControlValues): Promise<number> {
  const client = await ctx.temporal();
  const workflowId = v['workflow-id'] ?? (await runningPromotion(client, ctx.model));
  if (!workflowId) throw new UsageError(`no running promotion of ${ctx.model} (a train or promote workflow); --model NAME or --workflow-id ID`);
  const arg: RolloutUpdateArg = { by: safeUser(), ...(v.reason ? { reason: v.reason } : {}) };
  try {
    const answer = await client.workflow.getHandle(workflowId).executeUpdate<string, [RolloutUpdateArg]>(ROLLOUT_UPDATES[action], { args: [arg] });
    console.log(`${workflowId}: ${answer}`);
    return 0;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      console.error(`${workflowId}: ${action} refused: ${err.cause?.message ?? err.message}`);
      return 1;
    }
    throw err;
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'cli';
  }
}
