import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import type { RedisClient } from '../../../lib/queue/redis-connection';
import { createPipelineActivities, createTrainingActivities } from '../../../activities';
import { createRolloutActivities } from '../../../activities/rollout';
import { createAnalysisActivities, type AnalysisActivities } from '../../../activities/analysis';
import { PrometheusClient } from '../../../lib/metrics/prometheus-query';
import type { MlflowClient } from '../../../lib/mlflow/client';
import { ROOT, TEMPORAL_ADDRESS, VENV_BIN } from './env';

let runtimeInstalled = false;

export interface LifecycleWorkers {
  pipelineQueue: string;
  trainingQueue: string;
  /** The training workers' dataset cache (materialised versions, one folder per digest). */
  cacheDir: string;
  /** The pipeline worker's: it only ever holds short-lived clones (the pipeline queue never pulls data). */
  pipelineCacheDir: string;
  /** Shuts the workers down (in-flight tasks finish) and closes the connection. */
  close(): Promise<void>;
}

type PipelineSide = ReturnType<typeof createPipelineActivities> & ReturnType<typeof createRolloutActivities> & Partial<AnalysisActivities>;

export interface LifecycleWorkersOptions {
  mlflow: MlflowClient;
  redis: RedisClient;
  redisPrefix: string;
  id: string;
  /** false: no in-process training worker (a test runs one as a real process). */
  training?: boolean;
  /** Fault injection around the real pipeline activities (e.g. stop MLflow right after the rollout). */
  wrapPipeline?: (activities: PipelineSide) => PipelineSide;
  /** A real Prometheus: the live analysis of progressive rollouts runs against it (PROMETHEUS_URL of the pipeline worker). */
  prometheusUrl?: string;
  /** The rollout lease's TTL (ROLLOUT_LEASE_TTL_MS of the pipeline worker; 30 s). */
  leaseTtlMs?: number;
}

export function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
  } catch {
    // another test file in this process installed it
  }
  runtimeInstalled = true;
}

/** Dataset settings of the test workers: the project venv's DVC and the remote check, a throw-away cache. */
export function testDatasetDeps(cacheDir: string) {
  return {
    dvcBin: join(VENV_BIN, 'dvc'),
    python: join(VENV_BIN, 'python'),
    remoteCheckScript: join(ROOT, 'scripts/dataset/dvc-objects-check.py'),
    defaultRepo: ROOT,
    defaultPath: 'dvc/data/fashion-mnist-v2',
    cacheDir,
  };
}

/**
 * The pipeline and training workers exactly as the worker processes wire them
 * (real activities, real trainer, real DVC, the serving side's rollout
 * activities, and the live analysis when `prometheusUrl` is given), on
 * test-unique task queues.
 */
export async function startLifecycleWorkers(opts: LifecycleWorkersOptions): Promise<LifecycleWorkers> {
  quietTemporalRuntime();
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  const cacheDir = mkdtempSync(join(tmpdir(), 'lifecycle-cache-'));
  const pipelineCacheDir = mkdtempSync(join(tmpdir(), 'lifecycle-pipeline-cache-'));
  const datasets = testDatasetDeps(cacheDir);
  const pipelineQueue = `${opts.id}-pipeline`;
  const trainingQueue = `${opts.id}-training`;
  const pipelineActivities: PipelineSide = {
    ...createPipelineActivities({ mlflow: opts.mlflow, datasets: testDatasetDeps(pipelineCacheDir), gitCommit: 'test' }),
    ...createRolloutActivities({ mlflow: opts.mlflow, redis: opts.redis, redisPrefix: opts.redisPrefix, deployTimeoutMs: 60_000, leaseTtlMs: opts.leaseTtlMs ?? 30_000 }),
    // As workers/pipeline-worker.ts wires them (without it a progressive step's analysis has no activity to run).
    ...(opts.prometheusUrl ? createAnalysisActivities({ prometheus: new PrometheusClient({ url: opts.prometheusUrl, timeoutMs: 5000 }) }) : {}),
  };
  const pipeline = await Worker.create({
    connection,
    taskQueue: pipelineQueue,
    workflowsPath: require.resolve('../../../workflows'),
    activities: opts.wrapPipeline ? opts.wrapPipeline(pipelineActivities) : pipelineActivities,
    maxHeartbeatThrottleInterval: '1 second',
  });
  const workers = [pipeline];
  if (opts.training !== false) {
    workers.push(
      await Worker.create({
        connection,
        taskQueue: trainingQueue,
        activities: createTrainingActivities({
          mlflow: opts.mlflow,
          datasets,
          python: join(VENV_BIN, 'python'),
          trainerScript: join(ROOT, 'trainer/train.py'),
          logModelScript: join(ROOT, 'trainer/log_mlflow_model.py'),
          workDir: mkdtempSync(join(tmpdir(), 'lifecycle-train-')),
        }),
        maxHeartbeatThrottleInterval: '1 second',
      }),
    );
  }
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    pipelineQueue,
    trainingQueue,
    cacheDir,
    pipelineCacheDir,
    close: async () => {
      for (const w of workers) w.shutdown();
      await running;
      await connection.close();
    },
  };
}

export interface WorkerProcess {
  pid: number;
  /** stderr so far (for failure messages). */
  output(): string;
  /** SIGKILL to the whole process group: the worker and the trainer it started (a machine that died). */
  kill(): void;
  exited: Promise<void>;
}

/** `workers/training-worker.ts` as a real child process (its own process group), as a training machine runs it. */
export function spawnTrainingWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'workers/training-worker.ts')], {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS, METRICS_PORT: '0', TEMPORAL_METRICS_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    output: () => stderr,
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
    exited,
  };
}

/** An in-process training worker on `taskQueue` with its own (empty) dataset cache and work dir: a fresh machine. */
export async function startTrainingWorker(mlflow: MlflowClient, taskQueue: string): Promise<{ close(): Promise<void> }> {
  quietTemporalRuntime();
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    taskQueue,
    activities: createTrainingActivities({
      mlflow,
      datasets: testDatasetDeps(mkdtempSync(join(tmpdir(), 'lifecycle-cache-'))),
      python: join(VENV_BIN, 'python'),
      trainerScript: join(ROOT, 'trainer/train.py'),
      logModelScript: join(ROOT, 'trainer/log_mlflow_model.py'),
      workDir: mkdtempSync(join(tmpdir(), 'lifecycle-train-')),
    }),
    maxHeartbeatThrottleInterval: '1 second',
  });
  const running = worker.run();
  return {
    close: async () => {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
