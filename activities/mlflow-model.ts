import { z } from 'zod';
import { runCommand } from '../lib/process/run';
import { keepBeating } from './failures';

/** The one JSON line trainer/log_mlflow_model.py prints. */
const loggedModelSchema = z.object({
  model_id: z.string().min(1),
  model_uri: z.string().startsWith('models:/'),
  artifact_uri: z.string().min(1),
  onnx_artifact_uri: z.string().min(1),
  onnx_sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type LoggedModel = z.infer<typeof loggedModelSchema>;

export interface LogModelDeps {
  python: string;
  /** trainer/log_mlflow_model.py */
  script: string;
  trackingUri: string;
  signal?: AbortSignal;
  onKeepAlive?: () => void;
  /** How often `onKeepAlive` is called (default 5 s). */
  keepAliveMs?: number;
}

/**
 * Logs the ONNX file as an MLflow-native model in the run (MLmodel with
 * signature and input example, requirements) with MLflow's own Python API, so
 * the run lists it under "Logged models" and `mlflow models serve` can load the
 * registered version. Each call creates a new logged model (its own artifact
 * folder): nothing already registered is ever overwritten.
 */
export async function logMlflowModel(runId: string, onnxPath: string, deps: LogModelDeps): Promise<LoggedModel> {
  const { stdout } = await keepBeating(deps.onKeepAlive ?? (() => undefined), deps.keepAliveMs ?? 5000, () =>
    runCommand(deps.python, [deps.script, '--run-id', runId, '--onnx', onnxPath, '--name', 'model'], {
      signal: deps.signal,
      // MLflow's Python client reads the URI and MLFLOW_TRACKING_USERNAME/PASSWORD from the environment.
      env: { ...process.env, MLFLOW_TRACKING_URI: deps.trackingUri, PYTHONUNBUFFERED: '1' },
    }),
  );
  const line = stdout.split('\n').reverse().find((l) => l.trim().startsWith('{'));
  if (!line) throw new Error(`${deps.script} printed no JSON result`);
  return loggedModelSchema.parse(JSON.parse(line));
}
