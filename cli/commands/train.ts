import { parseInput, trainAndPromoteInputSchema, type TrainAndPromoteInput } from '../../lib/lifecycle/input';
import { trainStartMetadata } from '../../lib/lifecycle/start-metadata';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import { parseParams, timestampedId } from '../args';
import { rolloutInput, rolloutOptions, type RolloutValues } from '../rollout-args';
import type { CliContext } from '../config';
import { exitCodeOf, followInTerminal } from '../follow';
import { uiLink } from './links';

export const trainOptions = {
  path: { type: 'string' },
  rev: { type: 'string' },
  repo: { type: 'string' },
  params: { type: 'string' },
  param: { type: 'string', multiple: true },
  'workflow-id': { type: 'string' },
  'no-deploy': { type: 'boolean' },
  'min-improvement': { type: 'string' },
  detach: { type: 'boolean' },
  ...rolloutOptions,
} as const;

export interface TrainValues extends RolloutValues {
  path?: string;
  rev?: string;
  repo?: string;
  params?: string;
  param?: string[];
  'workflow-id'?: string;
  'no-deploy'?: boolean;
  'min-improvement'?: string;
  detach?: boolean;
}

/** The trainAndPromote input the options describe (validated here, so a typo fails before anything starts). */
export function trainInput(ctx: CliContext, v: TrainValues): TrainAndPromoteInput {
  const input: TrainAndPromoteInput = {
    modelName: ctx.model,
    dataset: { ...(v.path ? { path: v.path } : {}), ...(v.rev ? { rev: v.rev } : {}), ...(v.repo ? { repo: v.repo } : {}) },
    params: parseParams(v.params, v.param),
    deploy: !v['no-deploy'],
    trainingTaskQueue: ctx.config.TRAINING_TASK_QUEUE,
    ...(v['min-improvement'] ? { minImprovement: Number(v['min-improvement']) } : {}),
  };
  const rollout = rolloutInput(v);
  if (rollout) input.rollout = rollout;
  parseInput(trainAndPromoteInputSchema, input, 'trainAndPromote');
  return input;
}

/** `lifecycle train`: starts trainAndPromote and follows it live (Ctrl-C detaches, the workflow keeps running). */
export async function train(ctx: CliContext, v: TrainValues): Promise<number> {
  const input = trainInput(ctx, v);
  const client = await ctx.temporal();
  const workflowId = v['workflow-id'] ?? timestampedId(`train-${ctx.model}`);
  const handle = await client.workflow.start<typeof trainAndPromote>('trainAndPromote', { taskQueue: ctx.config.PIPELINE_TASK_QUEUE, workflowId, args: [input], ...trainStartMetadata(input) });
  console.log(`started trainAndPromote ${workflowId}  ${uiLink(ctx, workflowId)}`);
  if (v.detach) return 0;
  return exitCodeOf(await followInTerminal(handle));
}
