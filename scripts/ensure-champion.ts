import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { z } from 'zod';
import { commonSchema, envField, loadConfig } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { decisionLine } from '../lib/lifecycle/progress-view';
import { follow } from '../lib/temporal/watch-workflow';
import type { TrainAndPromoteInput } from '../lib/lifecycle/types';
import type { trainAndPromote } from '../workflows/train-and-promote';

const schema = commonSchema.extend({
  TEMPORAL_ADDRESS: envField.string('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: envField.string('default'),
  PIPELINE_TASK_QUEUE: envField.string('ml-pipeline'),
  /**
   * JSON trainAndPromote input for the bootstrap run; default: the small dataset v1 with default params,
   * the quickest way to a served model (a minute of training, not three on v2). The full v2 is the first
   * retrain's (`make train`), which then promotes a better model through the gate and the rollout.
   */
  BOOTSTRAP_INPUT: z.string().default('{"dataset":{"path":"dvc/data/fashion-mnist-v1"}}'),
  /** Printed for the user to watch the run (the stack exports it with its ports). */
  TEMPORAL_UI_URL: envField.string('http://127.0.0.1:8233'),
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
  const handle = await client.workflow.start<typeof trainAndPromote>('trainAndPromote', {
    taskQueue: config.PIPELINE_TASK_QUEUE,
    workflowId,
    args: [{ modelName: config.MODEL_NAME, ...input }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  console.log(`no champion yet: trainAndPromote ${workflowId} (Temporal UI: ${config.TEMPORAL_UI_URL})`);
  try {
    // The same live view as `npm run lifecycle -- train`: redrawn on a terminal, one line per change in logs.
    await follow(handle);
    const result = await handle.result();
    console.log(`trained v${result.model.version}: ${decisionLine(result.decision)}`);
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new Error(`bootstrap training failed: ${err.cause?.message ?? err.message}`);
    throw err;
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
