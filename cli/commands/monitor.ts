import { monitorModelInputSchema, parseInput, type MonitorModelInput } from '../../lib/lifecycle/input';
import type { monitorModel } from '../../workflows/monitor-model';
import { parseJsonOption, timestampedId } from '../args';
import type { CliContext } from '../config';

export const monitorOptions = {
  version: { type: 'string' },
  window: { type: 'string' },
  drift: { type: 'string' },
} as const;

/** `lifecycle monitor`: one drift check now (the workflow the monitor Schedule runs); prints the verdict per feature and the report. */
export async function monitor(ctx: CliContext, v: { version?: string; window?: string; drift?: string }): Promise<number> {
  const drift = { ...parseJsonOption<Record<string, unknown>>('drift', v.drift), ...(v.window ? { windowMinutes: Number(v.window) } : {}) };
  const input: MonitorModelInput = { modelName: ctx.model, ...(v.version ? { version: v.version } : {}), drift };
  parseInput(monitorModelInputSchema, input, 'monitorModel');
  const client = await ctx.temporal();
  const result = await client.workflow.execute<typeof monitorModel>('monitorModel', {
    taskQueue: ctx.config.PIPELINE_TASK_QUEUE,
    workflowId: timestampedId(`drift-check-${ctx.model}`),
    args: [input],
  });
  if (result.version === null) {
    console.log(`${ctx.model} has no champion: nothing to check`);
    return 0;
  }
  console.log(`${result.modelName} v${result.version}: ${result.status === 'ok' ? (result.drift ? 'DRIFT' : 'no drift') : result.status} (${result.rows} logged requests, ${(result.driftedShare * 100).toFixed(0)}% of features drifted)`);
  for (const [name, f] of Object.entries(result.features)) console.log(`  ${name.padEnd(12)} ${f.distance === null ? '-' : f.distance.toFixed(3).padStart(8)}  ${f.drifted ? 'drifted' : 'ok'}`);
  if (result.report) console.log(`report: ${result.report}`);
  return 0;
}
