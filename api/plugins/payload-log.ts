import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createPayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import type { PayloadLogApiConfig } from '../../lib/payload-log/config';
import { FeedbackAuth, type Credential } from '../services/feedback-auth';
import { FeedbackService } from '../services/feedback-service';
import { FeedbackStore } from '../services/feedback-store';
import { PayloadSampler } from '../services/payload-sampler';
import { PredictionRecorder } from '../services/prediction-recorder';
import type { ServedModelSource } from '../services/served-models';
import type { TrafficSource } from '../services/served-traffic';

export interface PayloadLogDeps {
  /** The API's command connection (fails fast while Redis is down; auto-pipelined). */
  redis: RedisClient;
  prefix: string;
  config: PayloadLogApiConfig;
  /** Feedback credentials (loadCredentials, at start-up). */
  credentials: Credential[];
}

/**
 * The payload log and feedback of one API process: the recorder the
 * prediction routes call after answering, and what the feedback routes need.
 */
export function setUpPayloadLog(
  deps: PayloadLogDeps,
  ctx: { registry: Registry; models: ServedModelSource; traffic?: TrafficSource; defaultModel: string; retryAfterSeconds: number; logger: Logger },
) {
  const store = new FeedbackStore(deps.redis, deps.prefix);
  const modelNames = () => [...new Set([ctx.defaultModel, ...ctx.models.list().map((m) => m.name)])];
  const metrics = createPayloadLogMetrics(ctx.registry, async () => new Map(await Promise.all(modelNames().map(async (m) => [m, await store.windows(m)] as const))));
  const { traffic } = ctx;
  const recorder = new PredictionRecorder({ redis: deps.redis, prefix: deps.prefix, config: deps.config, metrics, logger: ctx.logger });
  const sampler = new PayloadSampler({
    share: deps.config.PAYLOAD_LOG_SAMPLE,
    disabledModels: deps.config.PAYLOAD_LOG_DISABLED_MODELS,
    inTrafficStep: traffic ? (model) => traffic.get(model) !== null : undefined,
  });
  if (deps.credentials.every((c) => c.role !== 'labeller')) ctx.logger.warn('no feedback credential with role labeller (FEEDBACK_TOKENS / FEEDBACK_TOKENS_FILE): POST /feedback answers 401 or 403');
  const service = new FeedbackService({ store, models: ctx.models, defaultModel: ctx.defaultModel, config: deps.config, metrics, retryAfterSeconds: ctx.retryAfterSeconds });
  return { recorder, sampler, metrics, routes: { auth: new FeedbackAuth(deps.credentials), service } };
}
