import type { PayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import type { PayloadLogApiConfig } from '../../lib/payload-log/config';
import { toStreamFields } from '../../lib/payload-log/records';
import { ReplyError } from 'ioredis';
import { errorBody, HttpError, type ErrorBody } from '../errors';
import type { Credential } from './feedback-auth';
import type { FeedbackStore } from './feedback-store';
import type { ServedModelSource } from './served-models';

export interface FeedbackItem {
  request_id: string;
  label: string;
}

/** What happened to one feedback item: 202 with the join, or an error body with its own status. */
export type FeedbackResult =
  | { statusCode: 202; request_id: string; status: 'accepted' | 'duplicate'; model: string; version: string; predicted: string; correct: boolean }
  | (ErrorBody & { request_id: string });

export interface FeedbackServiceOptions {
  store: FeedbackStore;
  models: ServedModelSource;
  defaultModel: string;
  config: Pick<PayloadLogApiConfig, 'FEEDBACK_WINDOW_SECONDS' | 'FEEDBACK_STREAM_MAX_LENGTH' | 'LIVE_ACCURACY_WINDOW'>;
  metrics: PayloadLogMetrics;
  retryAfterSeconds: number;
}

const fail = (requestId: string, status: number, code: string, message: string): FeedbackResult => ({ ...errorBody(status, code, message), request_id: requestId });

/**
 * Joins ground truth to logged predictions. A Redis failure fails the whole
 * request (503 when Redis is unreachable, 500 when it refused a write): items
 * stored before it are repeats on a retry, and repeats are idempotent, so the
 * client can simply send the request again.
 */
export class FeedbackService {
  constructor(private readonly opts: FeedbackServiceOptions) {}

  /** `model`: the route's model, or undefined for POST /feedback (the default model, then every served one). */
  async submit(model: string | undefined, items: FeedbackItem[], credential: Credential): Promise<FeedbackResult[]> {
    const candidates = model !== undefined ? [model] : [...new Set([this.opts.defaultModel, ...this.opts.models.list().map((m) => m.name)])];
    const results: FeedbackResult[] = [];
    try {
      for (const item of items) results.push(await this.one(candidates, item, credential));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      // Redis answered with an error (a script or a key of the wrong type): a fault of this server, not an outage, so
      // not a 503 that invites retrying into the same failure. Anything else is the connection: 503, retry.
      const failure =
        err instanceof ReplyError
          ? new HttpError(500, 'FEEDBACK_STORE_FAILED', 'Feedback could not be stored: Redis refused the write (a server fault, logged); items before this one in the request were stored')
          : new HttpError(503, 'FEEDBACK_UNAVAILABLE', 'Feedback cannot be stored right now (Redis unreachable); retry: repeats are idempotent', {
              'retry-after': String(this.opts.retryAfterSeconds),
            });
      failure.cause = err; // logged by the error handler with the request
      throw failure;
    }
    return results;
  }

  private async one(candidates: string[], item: FeedbackItem, credential: Credential): Promise<FeedbackResult> {
    const { store, config } = this.opts;
    const id = item.request_id;
    const found = await store.findPrediction(candidates, id);
    const unknown = () => fail(id, 404, 'UNKNOWN_REQUEST', `No prediction ${id} within the feedback window (FEEDBACK_WINDOW_SECONDS=${config.FEEDBACK_WINDOW_SECONDS}); it is unknown or expired`);
    if (!found) return unknown();
    const { model, record } = found;
    const labels = (await store.labels(model, record.v)) ?? this.opts.models.get(model)?.metadata.labels ?? null;
    if (!labels?.includes(item.label)) {
      const known = labels ? `: one of ${labels.join(', ')}` : '';
      return fail(id, 422, 'UNKNOWN_LABEL', `${JSON.stringify(item.label)} is not a label of ${model} v${record.v}${known}`);
    }
    const predicted = record.k[0]!.label;
    const correct = predicted === item.label;
    const now = Date.now();
    const outcome = await store.save({
      model,
      requestId: id,
      version: record.v,
      feedback: { label: item.label, by: credential.name, at: now },
      correct,
      ttlSeconds: config.FEEDBACK_WINDOW_SECONDS,
      windowSize: config.LIVE_ACCURACY_WINDOW,
      streamMaxLength: config.FEEDBACK_STREAM_MAX_LENGTH,
      streamFields: toStreamFields({ request_id: id, model, version: record.v, ts: now, label: item.label, predicted, correct, labelled_by: credential.name, predicted_at: record.t }),
    });
    const accepted = (status: 'accepted' | 'duplicate'): FeedbackResult => ({ statusCode: 202, request_id: id, status, model, version: record.v, predicted, correct });
    switch (outcome.kind) {
      case 'stored':
        this.opts.metrics.feedback.inc({ model, version: record.v, outcome: correct ? 'correct' : 'wrong' });
        return accepted('accepted');
      case 'exists':
        return outcome.previous.label === item.label
          ? accepted('duplicate')
          : fail(id, 409, 'CONFLICTING_LABEL', `Request ${id} was already labelled ${JSON.stringify(outcome.previous.label)} by ${outcome.previous.by}; feedback cannot be changed`);
      case 'unknown':
        return unknown(); // expired between the read and the write
      case 'full':
        return fail(id, 503, 'FEEDBACK_BACKLOG_FULL', `The feedback log of ${model} is full (FEEDBACK_STREAM_MAX_LENGTH=${config.FEEDBACK_STREAM_MAX_LENGTH}): the payload logger is down or behind; retry later`);
    }
  }
}
