import { parseInput, promoteVersionInputSchema, type PromoteVersionInput } from '../../lib/lifecycle/input';
import { decisionLine } from '../../lib/lifecycle/progress-view';
import { promoteStartMetadata } from '../../lib/lifecycle/start-metadata';
import type { promoteVersion } from '../../workflows/promote-version';
import { timestampedId, UsageError } from '../args';
import { rolloutInput, rolloutOptions, type RolloutValues } from '../rollout-args';
import type { CliContext } from '../config';
import { exitCodeOf, followInTerminal } from '../follow';
import { uiLink } from './links';

export const promoteOptions = { force: { type: 'boolean' }, 'no-deploy': { type: 'boolean' }, detach: { type: 'boolean' }, reason: { type: 'string' }, ...rolloutOptions } as const;

interface PromoteValues extends RolloutValues {
  force?: boolean;
  'no-deploy'?: boolean;
  detach?: boolean;
  reason?: string;
}

/**
 * `lifecycle promote VERSION` / `lifecycle rollback`: the promoteVersion
 * workflow (same gate evidence, rollout and saga as an automatic promotion).
 * A promote the gate rejects ends unpromoted and says to use --force.
 */
export async function promote(ctx: CliContext, version: string | undefined, v: PromoteValues, rollback = false): Promise<number> {
  if (!rollback && !version) throw new UsageError('promote needs a VERSION');
  const input: PromoteVersionInput = {
    modelName: ctx.model,
    ...(rollback ? { rollback: true } : { version }),
    force: !!v.force,
    deploy: !v['no-deploy'],
    trainingTaskQueue: ctx.config.TRAINING_TASK_QUEUE,
    ...(v.reason ? { reason: v.reason } : {}),
  };
  const rollout = rolloutInput(v);
  if (rollout) input.rollout = rollout;
  parseInput(promoteVersionInputSchema, input, 'promoteVersion');
  const client = await ctx.temporal();
  const workflowId = timestampedId(rollback ? `rollback-${ctx.model}` : `promote-${ctx.model}-v${version}`);
  const handle = await client.workflow.start<typeof promoteVersion>('promoteVersion', { taskQueue: ctx.config.PIPELINE_TASK_QUEUE, workflowId, args: [input], ...promoteStartMetadata(input) });
  console.log(`started promoteVersion ${workflowId}  ${uiLink(ctx, workflowId)}`);
  if (v.detach) return 0;
  const end = await followInTerminal(handle);
  if (end !== 'completed') return exitCodeOf(end);
  const result = await handle.result();
  console.log(`\n${decisionLine(result.decision)}`);
  if (result.rolledBack) {
    console.log(`v${result.model.version} was rolled back by the live analysis: ${result.rollout?.reason ?? 'see the version\'s lifecycle.rollout.evidence tag'}`);
    return 4;
  }
  if (!result.promoted) {
    console.log(`v${result.model.version} was not promoted (the gate rejected it); run again with --force to promote it anyway.`);
    return 3;
  }
  console.log(`champion: ${ctx.model} v${result.model.version}${result.previousChampion ? ` (was v${result.previousChampion})` : ''}`);
  return 0;
}
