import { Client, Connection, WorkflowFailedError, defaultPayloadConverter } from '@temporalio/client';
import { z } from 'zod';
import { commonSchema, envField, loadConfig } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { statusQuery } from '../workflows/train-and-promote';
import type { TrainAndPromoteInput, TrainAndPromoteResult } from '../lib/lifecycle/types';

const schema = commonSchema.extend({
  TEMPORAL_ADDRESS: envField.string('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: envField.string('default'),
  PIPELINE_TASK_QUEUE: envField.string('ml-pipeline'),
  /** JSON trainAndPromote input for the bootstrap run; default: dataset v2, default params. */
  BOOTSTRAP_INPUT: z.string().default('{}'),
});

/**
 * `make up` step: if the registry has no champion yet, run trainAndPromote on
 * the default dataset and show its progress until the model is served.
 */
async function main(): Promise<void> {
  const config = loadConfig(schema);
  const mlflow = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
  const champion = await mlflow.getModelVersionByAlias(config.MODEL_NAME, 'champion');
  if (champion) {
    console.log(`champion: ${config.MODEL_NAME} v${champion.version} (nothing to train)`);
    return;
  }
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const input = JSON.parse(config.BOOTSTRAP_INPUT) as TrainAndPromoteInput;
  const workflowId = `bootstrap-${config.MODEL_NAME}`;
  // A fixed id: a second `make up` during a running bootstrap attaches to it instead of training twice.
  const handle = await client.workflow.start('trainAndPromote', {
    taskQueue: config.PIPELINE_TASK_QUEUE,
    workflowId,
    args: [{ modelName: config.MODEL_NAME, ...input }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  console.log(`no champion yet: started trainAndPromote (workflow id ${workflowId}); watch it in the Temporal UI`);
  const timer = setInterval(() => {
    void describeProgress(handle).then((line) => console.log(`  ${line}`));
  }, 10_000);
  try {
    const result = (await handle.result()) as TrainAndPromoteResult;
    console.log(`trained v${result.model.version}: ${JSON.stringify(result.metrics)}; ${result.decision.reason}`);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new Error(`bootstrap training failed: ${err.cause?.message ?? err.message}`);
    throw err;
  } finally {
    clearInterval(timer);
    await connection.close();
  }
}

async function describeProgress(handle: ReturnType<Client['workflow']['getHandle']>): Promise<string> {
  try {
    const status = await handle.query(statusQuery);
    // The training activity's heartbeats carry the trainer's progress lines (epoch, step, loss).
    const pending = (await handle.describe()).raw.pendingActivities?.[0];
    const payload = pending?.heartbeatDetails?.payloads?.[0];
    const beat = payload ? JSON.stringify(defaultPayloadConverter.fromPayload(payload)) : '';
    return `${status.step}${status.detail ? `: ${status.detail}` : ''}${beat ? ` ${beat}` : ''}`;
  } catch (err) {
    return `(progress unavailable: ${(err as Error).message})`;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
