import type { ActivityInboundCallsInterceptor, ActivityExecuteInput, Next } from '@temporalio/worker';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import type { WorkerMetrics } from './worker-metrics';

/** Times every activity attempt and counts outcomes, labelled by activity type. */
export function activityMetricsInterceptor(metrics: WorkerMetrics): ActivityInterceptorsFactory {
  return (ctx: Context) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
        const activity = ctx.info.activityType;
        const end = metrics.activityDuration.startTimer({ activity });
        try {
          const result: unknown = await next(input);
          end({ outcome: 'success' });
          metrics.activityTotal.inc({ activity, outcome: 'success' });
          return result;
        } catch (err) {
          end({ outcome: 'failure' });
          metrics.activityTotal.inc({ activity, outcome: 'failure' });
          throw err;
        }
      },
    };
    return { inbound };
  };
}
