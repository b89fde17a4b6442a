import { checkDatasetsInputSchema, parseInput, type CheckDatasetsInput } from '../../lib/lifecycle/input';
import type { checkDatasetUpdates } from '../../workflows/check-datasets';
import { parseParams, timestampedId } from '../args';
import type { CliContext } from '../config';

export const triggerOptions = {
  path: { type: 'string', multiple: true },
  rev: { type: 'string' },
  repo: { type: 'string' },
  params: { type: 'string' },
  param: { type: 'string', multiple: true },
  'no-deploy': { type: 'boolean' },
} as const;

/** `lifecycle trigger`: runs the data check once (the same workflow the data-trigger Schedule runs) and prints what it started. */
export async function trigger(
  ctx: CliContext,
  v: { path?: string[]; rev?: string; repo?: string; params?: string; param?: string[]; 'no-deploy'?: boolean },
): Promise<number> {
  const input: CheckDatasetsInput = {
    modelName: ctx.model,
    pipelineTaskQueue: ctx.config.PIPELINE_TASK_QUEUE,
    ...(v.path ? { paths: v.path } : {}),
    ...(v.rev ? { rev: v.rev } : {}),
    ...(v.repo ? { repo: v.repo } : {}),
    train: { trainingTaskQueue: ctx.config.TRAINING_TASK_QUEUE, params: parseParams(v.params, v.param), deploy: !v['no-deploy'] },
  };
  parseInput(checkDatasetsInputSchema, input, 'checkDatasetUpdates');
  const client = await ctx.temporal();
  const result = await client.workflow.execute<typeof checkDatasetUpdates>('checkDatasetUpdates', {
    taskQueue: ctx.config.PIPELINE_TASK_QUEUE,
    workflowId: timestampedId(`data-check-${ctx.model}`),
    args: [input],
  });
  for (const s of result.started) console.log(`started ${s.workflowId} for ${s.path} (digest ${s.digest}): follow it with \`npm run lifecycle -- status --workflow-id ${s.workflowId} --follow\``);
  for (const s of result.skipped) console.log(`skipped ${s.path} (digest ${s.digest}): ${s.reason}`);
  return 0;
}
