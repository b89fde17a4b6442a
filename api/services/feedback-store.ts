import type { RedisClient } from '../../lib/queue/redis-connection';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { feedbackRecordSchema, predictionRecordSchema, type FeedbackRecord, type PredictionRecord } from '../../lib/payload-log/records';

/**
 * Stores one feedback in one atomic step, all keys in the model's slot:
 * refuses a request that already has feedback (returns it) or whose record
 * has expired; refuses when the feedback stream is at its bound (nothing is
 * stored, so the caller's 503 is the whole truth); otherwise stores the
 * feedback with the record's TTL, pushes the outcome onto the version's
 * rolling window (keeping running sums beside it, so reading the live
 * accuracy is one HGETALL, not a scan of the window) and appends the joined
 * entry to the feedback stream for the logger.
 * KEYS: prediction, feedback, window, accuracy, feedback stream.
 * ARGV: feedback JSON, TTL s, window size, version, stream bound, correct (0|1), stream fields...
 */
const STORE_FEEDBACK = `
local existing = redis.call('GET', KEYS[2])
if existing then return {'exists', existing} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown', ''} end
if redis.call('XLEN', KEYS[5]) >= tonumber(ARGV[5]) then return {'full', ''} end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
local version, correct = ARGV[4], tonumber(ARGV[6])
redis.call('LPUSH', KEYS[3], correct)
redis.call('HINCRBY', KEYS[4], version .. ':n', 1)
redis.call('HINCRBY', KEYS[4], version .. ':correct', correct)
if redis.call('LLEN', KEYS[3]) > tonumber(ARGV[3]) then
  redis.call('HINCRBY', KEYS[4], version .. ':n', -1)
  -- Only a correct outcome leaving changes the sum. (Never pass -old: Lua formats minus zero as
  -- "-0", which HINCRBY refuses, and a script error leaves its earlier writes in place.)
  if redis.call('RPOP', KEYS[3]) == '1' then redis.call('HINCRBY', KEYS[4], version .. ':correct', -1) end
end
redis.call('XADD', KEYS[5], '*', unpack(ARGV, 7))
return {'stored', ''}
`;

type StoreCommand = (k1: string, k2: string, k3: string, k4: string, k5: string, ...args: Array<string | number | Buffer>) => Promise<[string, string]>;

export type StoreOutcome = { kind: 'stored' } | { kind: 'exists'; previous: FeedbackRecord } | { kind: 'unknown' } | { kind: 'full' };

export interface FeedbackToStore {
  model: string;
  requestId: string;
  version: string;
  feedback: FeedbackRecord;
  correct: boolean;
  ttlSeconds: number;
  windowSize: number;
  streamMaxLength: number;
  streamFields: Array<string | Buffer>;
}

/** Reads prediction records and labels, stores feedback (see STORE_FEEDBACK), reads the live-accuracy windows. */
export class FeedbackStore {
  private readonly keys: ReturnType<typeof payloadLogKeys>;
  private readonly store: StoreCommand;

  constructor(private readonly redis: RedisClient, prefix: string) {
    this.keys = payloadLogKeys(prefix);
    if (!('lcStoreFeedback' in redis)) redis.defineCommand('lcStoreFeedback', { numberOfKeys: 5, lua: STORE_FEEDBACK });
    this.store = (redis as unknown as { lcStoreFeedback: StoreCommand }).lcStoreFeedback.bind(redis);
  }

  /** The prediction record of `requestId` under the first of `models` that has one. */
  async findPrediction(models: string[], requestId: string): Promise<{ model: string; record: PredictionRecord } | null> {
    const raw = await Promise.all(models.map((m) => this.redis.get(this.keys.prediction(m, requestId))));
    for (const [i, text] of raw.entries()) {
      if (text === null) continue;
      const parsed = predictionRecordSchema.safeParse(JSON.parse(text));
      if (parsed.success) return { model: models[i]!, record: parsed.data };
    }
    return null;
  }

  /** The labels of `model`'s `version` as the API that served it published them, or null. */
  async labels(model: string, version: string): Promise<string[] | null> {
    const text = await this.redis.hget(this.keys.labels(model), version);
    if (text === null) return null;
    const parsed = (JSON.parse(text) as unknown);
    return Array.isArray(parsed) && parsed.every((l) => typeof l === 'string') ? parsed : null;
  }

  async save(f: FeedbackToStore): Promise<StoreOutcome> {
    const k = this.keys;
    const [kind, previous] = await this.store(
      k.prediction(f.model, f.requestId),
      k.feedback(f.model, f.requestId),
      k.window(f.model, f.version),
      k.accuracy(f.model),
      k.feedbackStream(f.model),
      JSON.stringify(f.feedback),
      f.ttlSeconds,
      f.windowSize,
      f.version,
      f.streamMaxLength,
      f.correct ? 1 : 0,
      ...f.streamFields,
    );
    if (kind === 'stored') await this.redis.sadd(k.models, f.model); // the logger's discovery (another slot: not in the script)
    if (kind === 'exists') return { kind, previous: feedbackRecordSchema.parse(JSON.parse(previous)) };
    if (kind === 'stored' || kind === 'unknown' || kind === 'full') return { kind };
    throw new Error(`unexpected feedback script reply ${kind}`);
  }

  /** Rolling windows of `model`: per version, outcomes in the window and how many were correct. */
  async windows(model: string): Promise<Array<{ version: string; n: number; correct: number }>> {
    const sums = await this.redis.hgetall(this.keys.accuracy(model));
    const byVersion = new Map<string, { version: string; n: number; correct: number }>();
    for (const [field, value] of Object.entries(sums)) {
      const at = field.lastIndexOf(':');
      const version = field.slice(0, at);
      const w = byVersion.get(version) ?? { version, n: 0, correct: 0 };
      if (field.slice(at + 1) === 'n') w.n = Number(value);
      else w.correct = Number(value);
      byVersion.set(version, w);
    }
    return [...byVersion.values()];
  }
}
