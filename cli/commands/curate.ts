import { curateDatasetInputSchema, parseInput, type CurateDatasetInput } from '../../lib/lifecycle/input';
import type { curateDataset } from '../../workflows/curate-dataset';
import { parseParams, timestampedId, UsageError } from '../args';
import type { CliContext } from '../config';

export const curateOptions = {
  'min-labels': { type: 'string' },
  'hold-out': { type: 'string' },
  'no-train': { type: 'boolean' },
  params: { type: 'string' },
  param: { type: 'string', multiple: true },
} as const;

const numberOption = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${v}`);
  return n;
};

/**
 * `lifecycle curate`: a new dataset version from the model's labelled payloads (the curateDataset
 * workflow, which the monitor's policy also starts), then training on it through the data trigger.
 * An operator's explicit run ignores the policy's cooldown.
 */
export async function curate(ctx: CliContext, v: { 'min-labels'?: string; 'hold-out'?: string; 'no-train'?: boolean; params?: string; param?: string[] }): Promise<number> {
  const params = v.params || v.param ? parseParams(v.params, v.param) : undefined;
  const input: CurateDatasetInput = {
    modelName: ctx.model,
    force: true,
    train: !v['no-train'],
    pipelineTaskQueue: ctx.config.PIPELINE_TASK_QUEUE,
    trainInput: { trainingTaskQueue: ctx.config.TRAINING_TASK_QUEUE, ...(params ? { params } : {}) },
    ...(v['min-labels'] ? { minLabels: numberOption('min-labels', v['min-labels']) } : {}),
    ...(v['hold-out'] ? { holdOutShare: numberOption('hold-out', v['hold-out']) } : {}),
  };
  parseInput(curateDatasetInputSchema, input, 'curateDataset');
  const client = await ctx.temporal();
  const result = await client.workflow.execute<typeof curateDataset>('curateDataset', {
    taskQueue: ctx.config.PIPELINE_TASK_QUEUE,
    workflowId: timestampedId(`curate-${ctx.model}`),
    args: [input],
  });
  if (result.status !== 'curated') {
    console.log(`no dataset version built (${result.status}): ${result.reason}`);
    return result.status === 'not_enough_labels' ? 0 : 1;
  }
  const { dataset, added } = result;
  console.log(`dataset ${dataset.path} at ${dataset.rev} (commit ${dataset.commit.slice(0, 12)}, DVC digest ${dataset.digest}) in ${dataset.repo}`);
  console.log(`  ${result.base.path}@${result.base.commit.slice(0, 7)} (the data of champion v${result.base.championVersion}) + ${added.train} labelled production samples in train, ${added.test} held out in test`);
  console.log(`  labelled by: ${Object.entries(result.labelledBy).map(([who, n]) => `${who} ${n}`).join(', ')}${result.skipped ? `; ${result.skipped} skipped (label not a class of the dataset)` : ''}`);
  console.log(`  ${result.duplicates} repeated image(s) counted once, ${result.conflicting} image(s) labelled two ways left out`);
  for (const s of result.training?.started ?? []) console.log(`started ${s.workflowId}: follow it with \`npm run lifecycle -- status --workflow-id ${s.workflowId} --follow\``);
  for (const s of result.training?.skipped ?? []) console.log(`training skipped: ${s.reason}`);
  return 0;
}
