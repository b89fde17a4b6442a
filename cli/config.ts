import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { commonSchema, envField, loadConfig } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { ensureLifecycleSearchAttributes } from '../lib/lifecycle/register-search-attributes';

/** The CLI's settings: the same variables the workers read (see .env.example). */
export const cliSchema = commonSchema.extend({
  TEMPORAL_ADDRESS: envField.string('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: envField.string('default'),
  /** Task queue of the pipeline workers (where the lifecycle workflows run). */
  PIPELINE_TASK_QUEUE: envField.string('ml-pipeline'),
  /** Task queue of the training workers, passed to the workflows. */
  TRAINING_TASK_QUEUE: envField.string('ml-training'),
  /** Shown by `lifecycle models`; empty: the served-by column is left out. */
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
});
export type CliConfig = z.infer<typeof cliSchema>;

export interface CliContext {
  config: CliConfig;
  /** The model every command acts on (--model, default MODEL_NAME). */
  model: string;
  /** --model was given: listings narrow to it (by default they show every model's workflows). */
  modelGiven: boolean;
  temporal(): Promise<Client>;
  mlflow: MlflowClient;
  close(): Promise<void>;
}

export function createContext(model: string | undefined, env: NodeJS.ProcessEnv = process.env): CliContext {
  const config = loadConfig(cliSchema, env);
  let connection: Connection | undefined;
  return {
    config,
    model: model ?? config.MODEL_NAME,
    modelGiven: model !== undefined,
    mlflow: new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI }),
    async temporal() {
      if (!connection) {
        connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
        // A dev server started before the lifecycle had search attributes gets them here, before a workflow
        // that upserts them could stall; where the CLI may not add them (Temporal Cloud), README says how.
        await ensureLifecycleSearchAttributes(connection, config.TEMPORAL_NAMESPACE).catch(() => []);
      }
      return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    },
    async close() {
      await connection?.close();
    },
  };
}
