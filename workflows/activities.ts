import { proxyActivities } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import type { AnalysisActivities, MonitoringActivities, PipelineActivities, RolloutActivities, TrainingActivities } from '../activities/index';
import type { SagaTimeouts, TrafficActivities } from '../lib/lifecycle/types';
import { summarized } from './activity-summaries';

/**
 * The activity stubs of the lifecycle workflows, grouped by how they must be
 * retried. Registry steps and compensation retry with backoff until a
 * generous schedule-to-close time (an MLflow outage is waited out, not
 * counted in attempts); bad input fails at once (non-retryable failures).
 */
export function lifecycleActivities(t: SagaTimeouts, trainingTaskQueue: string) {
  const ceiling = msToNumber(t.maxRetryInterval);
  const backoff = (extra: RetryPolicy = {}): RetryPolicy => ({ initialInterval: Math.min(1000, ceiling), backoffCoefficient: 2, maximumInterval: ceiling, ...extra });
  return {
    /** git + the DVC remote check (no data download). */
    data: summarized(proxyActivities<PipelineActivities>({
      startToCloseTimeout: '15 minutes',
      heartbeatTimeout: '1 minute',
      retry: backoff({ maximumAttempts: 5 }),
    })),
    /** MLflow tracking and registry calls: short, retried through an outage. */
    registry: summarized(proxyActivities<PipelineActivities>({ startToCloseTimeout: '2 minutes', scheduleToCloseTimeout: t.aliasMove, retry: backoff() })),
    /** The saga's pivot: retried until `aliasMove` runs out, then the fleet is rolled back. */
    alias: summarized(proxyActivities<PipelineActivities>({ startToCloseTimeout: '1 minute', scheduleToCloseTimeout: t.aliasMove, retry: backoff() })),
    /** The pivot holding the rollout lease: one heartbeating activity waits an MLflow outage out (patch alias-move-holds-lease). */
    pivot: summarized(proxyActivities<RolloutActivities>({
      startToCloseTimeout: t.aliasMove,
      heartbeatTimeout: t.rolloutHeartbeat,
      scheduleToCloseTimeout: t.aliasMove,
      retry: backoff(),
    })),
    /** Cleanup and compensation: must eventually happen, so the longest budget. */
    cleanup: summarized(proxyActivities<PipelineActivities & RolloutActivities>({
      startToCloseTimeout: t.deploy,
      heartbeatTimeout: t.rolloutHeartbeat,
      scheduleToCloseTimeout: t.cleanup,
      retry: backoff(),
    })),
    lease: summarized(proxyActivities<RolloutActivities>({
      startToCloseTimeout: t.leaseWait,
      heartbeatTimeout: t.rolloutHeartbeat,
      scheduleToCloseTimeout: t.leaseWait,
      retry: backoff(),
    })),
    /** One worker at a time; transient faults retried, checksum/golden-check failures are non-retryable. */
    deploy: summarized(proxyActivities<RolloutActivities>({
      startToCloseTimeout: t.deploy,
      heartbeatTimeout: t.rolloutHeartbeat,
      retry: backoff({ maximumAttempts: 3 }),
    })),
    /** A progressive step's traffic reaches the fleet (the candidate loads on every worker): like deploy. */
    traffic: summarized(proxyActivities<TrafficActivities>({
      startToCloseTimeout: t.deploy,
      heartbeatTimeout: t.rolloutHeartbeat,
      retry: backoff({ maximumAttempts: 3 }),
    })),
    /** Taking the candidate's traffic away (rollback, cancel, before the full rollout): must happen, so cleanup's budget. */
    trafficCleanup: summarized(proxyActivities<TrafficActivities>({
      startToCloseTimeout: t.deploy,
      heartbeatTimeout: t.rolloutHeartbeat,
      scheduleToCloseTimeout: t.cleanup,
      retry: backoff(),
    })),
    /**
     * One Prometheus analysis: short; a few retries, then the workflow counts it as no evidence
     * (a hold), so a Prometheus outage ends in "not enough evidence", never in a promotion.
     */
    analysis: summarized(proxyActivities<AnalysisActivities>({
      startToCloseTimeout: '1 minute',
      retry: backoff({ maximumAttempts: 3 }),
    })),
    training: summarized(proxyActivities<TrainingActivities>({
      taskQueue: trainingTaskQueue,
      startToCloseTimeout: t.training,
      // The keep-alive beats every few seconds while the trainer lives: silence means the worker died,
      // and the retry resumes from the checkpoint recorded in the last heartbeat.
      heartbeatTimeout: t.trainingHeartbeat,
      retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
    })),
    evaluation: summarized(proxyActivities<TrainingActivities>({
      taskQueue: trainingTaskQueue,
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: t.trainingHeartbeat,
      retry: backoff({ maximumAttempts: 5 }),
    })),
  };
}

export type LifecycleActivities = ReturnType<typeof lifecycleActivities>;

/**
 * The drift check, on the monitoring queue: a few minutes at most (a Python process
 * over one window); retried a few times, then the workflow fails and the next
 * scheduled check tries again.
 */
export function monitoringActivities(taskQueue: string) {
  return summarized(proxyActivities<MonitoringActivities>({
    taskQueue,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
  }));
}

/** Building a dataset version (copy, dvc add, dvc push, git push): minutes for a large base; retried, it reuses what an earlier attempt published. */
export function curationActivities(taskQueue: string) {
  return summarized(proxyActivities<MonitoringActivities>({
    taskQueue,
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
  }));
}
