import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { ConfigError } from '../lib/env';
import { InvalidInputError } from '../lib/lifecycle/input';
import { UsageError } from './args';
import { createContext } from './config';
import { models, modelsOptions } from './commands/models';
import { monitor, monitorOptions } from './commands/monitor';
import { curate, curateOptions } from './commands/curate';
import { promote, promoteOptions } from './commands/promote';
import { rolloutControl, rolloutControlOptions } from './commands/rollout-control';
import { schedule, scheduleOptions } from './commands/schedule';
import { status, statusOptions } from './commands/status';
import { train, trainOptions } from './commands/train';
import { trigger, triggerOptions } from './commands/trigger';

const USAGE = `Lifecycle CLI: npm run lifecycle -- <command> [options]      (every command takes --model NAME, default MODEL_NAME)

  train      [--path dvc/data/fashion-mnist-v2] [--rev REV] [--repo REPO] [--params JSON] [--param k=v ...]
             [--workflow-id ID] [--no-deploy] [--min-improvement X] [--detach]
             [--strategy progressive|all-at-once] [--steps shadow:100%:30s,canary:20%:30s] [--min-samples N]
             [--analysis-interval 10s] [--require-approval]
             start trainAndPromote and follow it live (dataset, epochs, registration, gate, rollout); Ctrl-C detaches
  status     [--workflow-id ID [--follow]]      one workflow's progress, or the champion and recent lifecycle workflows
             [--outcome promoted|rejected|rolled-back|failed|cancelled] [--version N] [--dataset PATH|DIGEST] [--limit N]
             (filters by the workflows' search attributes; with --model, only that model's workflows)
  promote    VERSION [--force] [--no-deploy] [--reason TEXT] [--strategy ...] [--steps ...]   promote a registered
             version (same gate, saga and progressive rollout; --force skips the gate, never the live analysis)
  approve|abort|pause|resume  [--reason TEXT] [--workflow-id ID]   steer the model's running progressive rollout
  rollback   [--no-deploy]                      promote the version the champion replaced
  schedule   create|update|pause|resume|delete|list|describe [--kind retrain|data-trigger|monitor] [--every 1d]
             [--input JSON] [--params JSON] [--param k=v] [--path P ...] [--id ID] [--paused]
  trigger    [--path P ...] [--rev REV] [--params JSON] [--no-deploy]   run the data check once
  monitor    [--version N] [--window MINUTES] [--drift JSON]   one drift check of the served version now: live window
             of the payload log against the training-time reference; report in the version's MLflow run
  curate     [--min-labels N] [--hold-out 0.2] [--no-train] [--params JSON]   a new DVC dataset version: the
             champion's data + labelled payloads since the last curation; then trains on it (data trigger)
  models     [--outcome promoted|rejected|rolled-back|failed|cancelled]
             versions with aliases, test accuracy, dataset digest, outcome and serving workers

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, PIPELINE_TASK_QUEUE, TRAINING_TASK_QUEUE, MLFLOW_TRACKING_URI,
             REDIS_URL, REDIS_PREFIX, MODEL_NAME (see .env.example).`;

const CONTROL = ['approve', 'abort', 'pause', 'resume'] as const;
const COMMANDS = ['train', 'status', 'promote', 'rollback', 'schedule', 'trigger', 'monitor', 'curate', 'models', ...CONTROL];

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command ${command}`);
  const parse = <O extends ParseArgsOptionsConfig>(options: O) =>
    parseArgs({ args: rest, options: { ...options, model: { type: 'string' as const } }, allowPositionals: true, strict: true });
  const ctx = createContext(parse({ ...trainOptions, ...statusOptions, ...promoteOptions, ...scheduleOptions, ...triggerOptions, ...monitorOptions, ...curateOptions, ...modelsOptions, ...rolloutControlOptions }).values.model);
  try {
    switch (command) {
      case 'train':
        return await train(ctx, parse(trainOptions).values);
      case 'status':
        return await status(ctx, parse(statusOptions).values);
      case 'promote': {
        const { values, positionals } = parse(promoteOptions);
        return await promote(ctx, positionals[0], values);
      }
      case 'rollback':
        return await promote(ctx, undefined, parse(promoteOptions).values, true);
      case 'schedule': {
        const { values, positionals } = parse(scheduleOptions);
        return await schedule(ctx, positionals[0], values);
      }
      case 'approve':
      case 'abort':
      case 'pause':
      case 'resume':
        return await rolloutControl(ctx, command, parse(rolloutControlOptions).values);
      case 'trigger':
        return await trigger(ctx, parse(triggerOptions).values);
      case 'monitor':
        return await monitor(ctx, parse(monitorOptions).values);
      case 'curate':
        return await curate(ctx, parse(curateOptions).values);
      default:
        return await models(ctx, parse(modelsOptions).values);
    }
  } finally {
    await ctx.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (err instanceof ConfigError || err instanceof InvalidInputError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
