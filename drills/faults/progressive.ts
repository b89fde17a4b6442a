/**
 * What the progressive-delivery drills share: the short rollout they run (seconds-long steps and
 * small sample minimums, so a drill takes about a minute, not the defaults' half hour), waiting for
 * the fleet to carry a step, and judging what the load saw and what the registry says afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { readTrafficState } from '../../lib/fleet/traffic-states';
import { TRAFFIC_PLAN_TAG } from '../../lib/fleet/protocol';
import type { RolloutInput, RolloutStepConfig } from '../../lib/lifecycle/rollout-config';
import { VERSION_TAGS, tagsOf } from '../../lib/mlflow/client';
import type { DrillContext } from '../drill';
import type { RequestRecord } from '../load';
import type { Stack } from '../stack';

type Duration = RolloutStepConfig['minDuration'];

/**
 * Steps as `mode:share:minDuration[:maxDuration]` (the CLI's `--steps` form). Every criterion keeps
 * its default threshold and minimum (Prometheus scrapes every 5 s, so a step needs ~10 s before its
 * window holds two scrapes). The sample minimum is 300: the class-distance criterion is a bare threshold (0.15) on the
 * Jensen-Shannon distance, and two identical models compared on ~100 predictions each are about
 * 0.15 apart by chance alone (a copy of the champion was rolled back that way with 60).
 */
export function drillRollout(steps: string, minSamples = 300): RolloutInput {
  return {
    steps: steps.split(',').map((part) => {
      const [mode, share, minDuration, maxDuration] = part.split(':') as [string, string, string, string | undefined];
      if (mode !== 'shadow' && mode !== 'canary') throw new Error(`bad drill step ${part}`);
      return { mode, share: Number(share.replace('%', '')) / 100, minDuration: minDuration as Duration, ...(maxDuration ? { maxDuration: maxDuration as Duration } : {}), minSamples };
    }),
    analysisInterval: '3s',
  };
}

/**
 * Waits until the fleet on `redis` carries rollout `workflowId`'s plan in `mode`; returns the ms waited,
 * or null after `timeoutMs` or once `workflow` (when given) has ended.
 */
export async function fleetInMode(redis: RedisClient, prefix: string, model: string, workflowId: string, mode: 'shadow' | 'canary', timeoutMs: number, workflow?: WorkflowHandle): Promise<number | null> {
  let ended = false;
  workflow?.result().then(
    () => (ended = true),
    () => (ended = true),
  );
  const t0 = Date.now();
  while (!ended && Date.now() - t0 <= timeoutMs) {
    const state = await readTrafficState(redis, prefix, model).catch(() => null);
    if (state !== null && state.mode === mode && state.deploymentId.startsWith(`${workflowId}/`)) return Date.now() - t0;
    await sleep(100);
  }
  return null;
}

/** The candidate's share of the 200 answers sent in [from, to]. */
export function answeredShare(records: RequestRecord[], version: string, from: number, to: number): { share: number; candidate: number; ok: number } {
  const ok = records.filter((r) => r.outcome === 'ok' && r.startedAt >= from && r.startedAt <= to);
  const candidate = ok.filter((r) => r.version === version).length;
  return { share: ok.length > 0 ? candidate / ok.length : 0, candidate, ok: ok.length };
}

/** The version's outcome tag and step evidence, and whether the registry still holds a traffic plan. */
export async function registryAfter(stack: Stack, version: string): Promise<{ outcome: string | undefined; steps: number; planLeft: boolean }> {
  const tags = tagsOf(await stack.mlflow.getModelVersion(stack.modelName, version));
  let steps = 0;
  try {
    steps = (JSON.parse(tags[VERSION_TAGS.rollout] ?? '{}') as { steps?: unknown[] }).steps?.length ?? 0;
  } catch {
    steps = 0;
  }
  const planLeft = (await stack.mlflow.registeredModelTag(stack.modelName, TRAFFIC_PLAN_TAG)) !== null;
  return { outcome: tags[VERSION_TAGS.outcome], steps, planLeft };
}

/** Records the evidence the registry holds as notes, and the problems a finished rollout must not have. */
export async function expectRegistry(ctx: DrillContext, version: string, want: { outcome: string; minSteps: number }): Promise<void> {
  const r = await registryAfter(ctx.stack, version);
  ctx.expect(r.outcome === want.outcome, `v${version} is tagged ${VERSION_TAGS.outcome}=${r.outcome ?? '(none)'}, not ${want.outcome}`);
  ctx.expect(r.steps >= want.minSteps, `v${version} carries the evidence of ${r.steps} step(s), expected at least ${want.minSteps}`);
  ctx.expect(!r.planLeft, `the registry still holds a traffic plan (${TRAFFIC_PLAN_TAG}) after the rollout`);
}
