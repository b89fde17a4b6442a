import type { ActivityInterfaceFor } from '@temporalio/workflow';

/**
 * A one-line summary per activity call, shown on the execution's timeline in
 * the Temporal UI ("roll v7 out to the fleet" instead of "deployModel").
 * Read from the call's own arguments, so it is deterministic; a summary is user
 * metadata on the ScheduleActivityTask command, not a new command, so recorded
 * histories still replay (workflows/replay.test.ts).
 */
export function activitySummary(name: string, args: unknown[]): string {
  // Arguments are read loosely: a summary must never fail a call.
  const f = (path: string, n?: number, i = 0): string => {
    let at: unknown = args[i];
    for (const k of path ? path.split('.') : []) at = at && typeof at === 'object' ? (at as Record<string, unknown>)[k] : undefined;
    const text = typeof at === 'string' || typeof at === 'number' || typeof at === 'boolean' ? String(at) : '?';
    return n ? text.slice(0, n) : text;
  };
  const version = (prefix: string) => `${f(`${prefix}name`)} v${f(`${prefix}version`)}`;
  switch (name) {
    case 'resolveDataset':
      return `resolve ${f('path')}@${f('rev')} (DVC pointer, no download)`;
    case 'inspectDatasets':
      return `look for new dataset digests of ${f('modelName')} at ${f('rev')}`;
    case 'startRun':
      return `open the MLflow run of ${f('dataset.name')}@${f('dataset.commit', 7)} in experiment ${f('experimentName')}`;
    case 'trainModel':
      return `train on ${f('dataset.path')}@${f('dataset.rev', 7)} (MLflow run ${f('run.runId', 8)})`;
    case 'registerModel':
      return `register ${f('modelName')} from run ${f('run.runId', 8)}`;
    case 'getChampion':
    case 'championVersion':
      return `read the champion of ${f('')}`;
    case 'liveAccuracyNow':
      return `read the live accuracy of ${f('modelName')} v${f('version')} (Prometheus)`;
    case 'countNewLabels':
      return `count the labelled payloads of ${f('')} no curated version holds yet`;
    case 'curateDataset':
      return `build a dataset version of ${f('modelName')} from its labelled payloads (at least ${f('minLabels')})`;
    case 'measureDrift':
      return `compare the last ${f('settings.windowMinutes')} min of ${f('modelName')} v${f('version')}'s payload log with its drift reference`;
    case 'getVersionInfo':
      return `read ${version('')} and its run`;
    case 'rollbackTarget':
      return `find the version the champion of ${f('')} replaced`;
    case 'evaluateVersion':
      return `measure champion ${version('model.')} on split ${f('splitDigest', 6)}`;
    case 'recordDecision':
      return `record the gate on ${version('')}: ${f('promote', 0, 1) === 'true' ? 'promote' : f('forced', 0, 1) === 'true' ? 'forced' : 'reject'}`;
    case 'acquireRolloutLease':
      return `wait for the rollout lease of ${f('modelName')}`;
    case 'deployModel':
      return `roll ${version('model.')} out to the fleet, one worker at a time`;
    case 'moveChampionAlias':
      return `move champion to ${version('model.')} (holding the lease)`;
    case 'setChampion':
      return `move champion to ${version('')}`;
    case 'finalizeRollout':
      return `finalize the rollout of ${version('model.')}`;
    case 'releaseRolloutLease':
      return `release the rollout lease of ${f('modelName')}`;
    case 'restoreFleet':
      return `compensate: fleet of ${f('modelName')} back to the registry champion`;
    case 'finishRun':
      return `close MLflow run ${f('runId', 8)} ${f('status')}`;
    case 'abandonExecution':
      return `clean up after ${f('status') === 'KILLED' ? 'cancellation' : 'failure'}: end the run, mark the version`;
    case 'setTraffic':
      return `${f('mode')} ${Math.round(Number(f('share')) * 100)}% of ${version('model.')}'s traffic`;
    case 'clearTraffic':
      return `take the candidate's traffic away (${f('modelName')})`;
    case 'analyzeStep':
      return `analyse v${f('candidateVersion')} against champion v${f('championVersion')} (${f('step.mode')} ${Math.round(Number(f('step.share')) * 100)}%)`;
    case 'recordRolloutEvidence':
      return `record the rollout evidence on ${version('model.')}: ${f('record.outcome')}`;
    default:
      return name;
  }
}

/** The same activity stubs, each call carrying its summary. */
export function summarized<A>(stubs: ActivityInterfaceFor<A>): ActivityInterfaceFor<A> {
  type Stub = { executeWithOptions: (this: void, options: { summary: string }, args: unknown[]) => Promise<unknown> };
  const calls: object = stubs;
  return new Proxy(calls, {
    get(target, key) {
      const fn = (target as Record<string | symbol, Stub>)[key]!;
      if (typeof key !== 'string') return fn;
      const call = (...args: unknown[]) => fn.executeWithOptions({ summary: activitySummary(key, args) }, args);
      return Object.assign(call, { executeWithOptions: fn.executeWithOptions });
    },
  }) as ActivityInterfaceFor<A>;
}
