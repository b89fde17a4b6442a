/** Extra API instances and inference workers a drill runs next to (or instead of) the stack's own. */
import { freePort } from '../lib/process/free-port';
import { waitFor, type DrillContext } from './drill';
import { DrillProcess } from './processes';

export interface Started {
  proc: DrillProcess;
  /** API: its base URL; worker: its metrics/health base URL. */
  url: string;
}

async function startReady(ctx: DrillContext, proc: DrillProcess, url: string, timeoutMs: number): Promise<Started> {
  // Stopped gracefully at cleanup unless the drill already killed it.
  ctx.defer(`stop ${proc.name}`, () => proc.stop());
  const ready = await waitFor(async () => {
    if (proc.exited) throw new Error('exited');
    return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
  }, timeoutMs);
  if (ready === null || proc.exited) throw new Error(`${proc.name} did not become ready${proc.exited ? ' (it exited)' : ''}:\n${proc.log().slice(-3000)}`);
  return { proc, url };
}

/**
 * An inference worker with inference-worker-1's settings, a worker id of its own and `env` on top; `entry`
 * another program that runs one (drills/faulty-inference-worker).
 */
export async function startWorker(ctx: DrillContext, workerId: string, env: Record<string, string> = {}, entry = 'workers/inference-worker'): Promise<Started> {
  const port = await freePort();
  const base = ctx.stack.processEnv(ctx.stack.ofKind('inference-worker')[0]!.name);
  const proc = DrillProcess.platform(workerId, entry, { ...base, WORKER_ID: workerId, METRICS_PORT: String(port), ...env });
  return startReady(ctx, proc, `http://127.0.0.1:${port}`, 90_000);
}

/** An API instance with api-1's settings, its own port and instance id, and `env` on top. */
export async function startApi(ctx: DrillContext, instanceId: string, env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const base = ctx.stack.processEnv(ctx.stack.ofKind('api')[0]!.name);
  const proc = DrillProcess.platform(instanceId, 'api/server', { ...base, PORT: String(port), API_INSTANCE_ID: instanceId, ...env });
  return startReady(ctx, proc, `http://127.0.0.1:${port}`, 60_000);
}

/** A pipeline worker with pipeline-worker-1's settings, ports of its own and `env` on top (e.g. its own TASK_QUEUE and Redis). */
export async function startPipelineWorker(ctx: DrillContext, name: string, env: Record<string, string> = {}): Promise<Started> {
  const [metrics, temporalMetrics] = [await freePort(), await freePort()];
  const base = ctx.stack.processEnv(ctx.stack.ofKind('pipeline-worker')[0]!.name);
  const proc = DrillProcess.platform(name, 'workers/pipeline-worker', { ...base, METRICS_PORT: String(metrics), TEMPORAL_METRICS_PORT: String(temporalMetrics), ...env });
  return startReady(ctx, proc, `http://127.0.0.1:${metrics}`, 90_000);
}
