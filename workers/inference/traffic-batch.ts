import type { InferenceReply } from '../../lib/queue/messages';
import type { Completion } from '../../lib/queue/request-consumer';
import type { LoadedModel } from './model-loader';
import type { ModelSlot } from './model-slot';
import { runBatch, type RunContext, type RunOutcome, type Runnable } from './run-batch';

export interface TrafficBatchOptions extends RunContext {
  champion: ModelSlot;
  candidate: ModelSlot;
}

export interface RoutedBatch {
  completions: Completion[];
  /** The runs nobody waits for (shadow on the candidate, mirror on the champion), to start once the replies are sent. */
  followUp: (() => Promise<void>) | null;
}

const noop = () => undefined;
const top1 = (o: RunOutcome): string | undefined => (o.ok ? o.predictions[0]?.label : undefined);

/** Replies for one run's outcomes, naming the version that ran them. */
function replies(outcomes: RunOutcome[], loaded: LoadedModel): Completion[] {
  const served = { name: loaded.ref.name, version: loaded.ref.version };
  return outcomes.map(({ item, ...o }) => {
    const reply: InferenceReply = o.ok ? { id: item.request.id, ok: true, model: served, predictions: o.predictions } : { id: item.request.id, ok: false, code: o.code, message: o.message };
    return { entryId: item.entryId, replyTo: item.request.replyTo, reply };
  });
}

/**
 * A batch in which some requests carry a progressive rollout's variant. The
 * champion answers plain and shadow requests, the candidate answers canary
 * ones when this worker holds the version the API routed to (otherwise the
 * champion does, and the fallback is counted). Shadow requests then also run
 * on the candidate, and mirrored canary requests on the champion, after the
 * replies went out: the caller never waits for them; their top-1 agreement is
 * counted under the candidate's version.
 */
export async function serveRouted(opts: TrafficBatchOptions, items: Runnable[], after: Promise<void>): Promise<RoutedBatch> {
  const { champion, candidate, metrics, model } = opts;
  const championModel = champion.model;
  const candidateModel = candidate.model;
  if (!championModel) throw new Error('no model loaded');
  const holds = (version: string | undefined) => candidateModel !== null && candidateModel.ref.version === version;
  const byChampion: Runnable[] = [];
  const byCandidate: Runnable[] = [];
  for (const item of items) {
    const { variant, candidateVersion } = item.request;
    if ((variant === 'canary' || variant === 'canary-mirror') && holds(candidateVersion)) byCandidate.push(item);
    else {
      if (variant !== undefined && variant !== 'shadow' && candidateVersion !== championModel.ref.version) metrics.trafficFallbacks.inc({ model });
      byChampion.push(item);
    }
  }
  // Both slots are taken synchronously, right after reading them: neither can be swapped out in between.
  const championRun = byChampion.length ? champion.use((loaded) => runBatch(opts, byChampion, loaded, after)) : Promise.resolve([]);
  const championDone = byChampion.length ? championRun.then(noop, noop) : after;
  const candidateRun = byCandidate.length ? candidate.use((loaded) => runBatch(opts, byCandidate, loaded, championDone)) : Promise.resolve([]);
  candidateRun.catch(noop);
  const championOutcomes = await championRun;
  const candidateOutcomes = await candidateRun;
  metrics.processed.inc({ model }, [...championOutcomes, ...candidateOutcomes].filter((o) => o.ok).length);
  const completions = [...replies(championOutcomes, championModel), ...(candidateModel ? replies(candidateOutcomes, candidateModel) : [])];

  const shadow = championOutcomes.filter((o) => o.ok && o.item.request.variant === 'shadow');
  const mirror = candidateOutcomes.filter((o) => o.ok && o.item.request.variant === 'canary-mirror');
  if (shadow.length === 0 && mirror.length === 0) return { completions, followUp: null };
  const followUp = async () => {
    const shadowOn = candidate.model;
    const forCandidate = shadowOn ? shadow.filter((o) => o.item.request.candidateVersion === shadowOn.ref.version) : [];
    if (shadowOn && forCandidate.length) {
      const outcomes = await candidate.use((loaded) => runBatch(opts, forCandidate.map((o) => o.item), loaded, Promise.resolve(), { answering: false, examples: reusable(forCandidate, championModel, loaded) }));
      countAgreement(opts, shadowOn.ref.version, forCandidate, outcomes);
    }
    if (mirror.length && candidateModel && champion.model) {
      const outcomes = await champion.use((loaded) => runBatch(opts, mirror.map((o) => o.item), loaded, Promise.resolve(), { answering: false, examples: reusable(mirror, candidateModel, loaded) }));
      countAgreement(opts, candidateModel.ref.version, mirror, outcomes);
    }
  };
  return { completions, followUp };
}

/** Same input geometry and normalisation: an example prepared for one version is exactly what the other would prepare. */
function sameInput(a: LoadedModel, b: LoadedModel): boolean {
  return JSON.stringify([a.metadata.input, a.metadata.normalization]) === JSON.stringify([b.metadata.input, b.metadata.normalization]);
}

/** The examples the first run prepared, when the second version takes the same input (decoding twice is the dearest part). */
function reusable(answered: RunOutcome[], ran: LoadedModel, next: LoadedModel): ReadonlyMap<Runnable, Float32Array> | undefined {
  if (!sameInput(ran, next)) return undefined;
  return new Map(answered.flatMap((o) => (o.ok ? [[o.item, o.example] as const] : [])));
}

/** Agreement of the answered outcomes with the other version's run of the same requests (matched by request id). */
function countAgreement(opts: TrafficBatchOptions, candidateVersion: string, answered: RunOutcome[], other: RunOutcome[]): void {
  const otherTop = new Map(other.map((o) => [o.item.request.id, top1(o)]));
  for (const o of answered) {
    const theirs = otherTop.get(o.item.request.id);
    if (theirs === undefined) continue;
    opts.metrics.agreement.inc({ model: opts.model, version: candidateVersion, agree: String(theirs === top1(o)) });
  }
}
