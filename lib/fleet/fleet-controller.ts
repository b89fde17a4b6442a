import type { RedisClient } from '../queue/redis-connection';
import type { Logger } from 'pino';
import type { ModelMetadata } from '../model/metadata';
import { readActiveModels } from './active-models';
import { activeModelSchema, controllerLeaseSchema, fleetKeys, type ActiveModel, type ModelRef, type TrafficState } from './protocol';
import { readTrafficStates } from './traffic-states';
import { TrafficSync, type TrafficRegistry } from './traffic-sync';
import { listWorkerStatuses } from './worker-statuses';

/** Takes or renews the controller lease for ARGV[1]; returns 1 when ARGV[1] holds it afterwards. */
const HOLD = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/** Writes (ARGV[3] non-empty) or removes one field of a fleet hash (`active`, `traffic`), only while ARGV[1] holds the controller lease. */
const WRITE_FIELD = `
local current = redis.call('GET', KEYS[1])
if not current or cjson.decode(current).holder ~= ARGV[1] then return 0 end
local kind = redis.call('TYPE', KEYS[2]).ok
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[2]) end
if ARGV[3] == '' then redis.call('HDEL', KEYS[2], ARGV[2]) else redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
return 1
`;

const RELEASE = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).holder == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface FleetControllerOptions {
  redis: RedisClient;
  prefix: string;
  /** Unique per process (the worker id). */
  holder: string;
  /** With the TrafficRegistry methods, the controller also keeps `traffic` in line with each model's traffic plan tag. */
  registry: {
    resolveModelRef(name: string, alias: string): Promise<ModelRef | null>;
  } & Partial<TrafficRegistry>;
  /**
   * The models this fleet serves: by default those some live worker serves (SERVED_MODELS, or with `*`
   * what the workers discovered). A registry shared with other fleets has models this one must not route.
   */
  fleetModels?: () => Promise<string[]>;
  /** The registry alias the fleet serves (champion). */
  alias: string;
  /** Serving metadata of a version (read from its verified ONNX file). */
  metadataOf: (ref: ModelRef) => Promise<ModelMetadata>;
  /** The controller lease lives this long without renewal; another process takes over after it. */
  leaseTtlMs: number;
  /** How often the registry is compared with `active` even when nothing asked for it. */
  registryCheckIntervalMs: number;
  logger: Logger;
}

/**
 * The one writer of the fleet's `active` and `traffic` hashes (the traffic
 * part, a progressive rollout's plan tag turned into `traffic[model]`, is in
 * traffic-sync.ts and rides on the same triggers). `active[model]` is a cache of
 * what the registry's alias names (with the version's serving metadata), so
 * the API and workers can follow it without asking MLflow on every request.
 * Every inference worker runs a controller, but only the holder of the
 * controller lease writes, and each write checks the lease in the same script,
 * so two processes never write `active` at once. The holder re-reads the
 * registry on every tick when an entry is missing (Redis restarted empty), when
 * asked (`sync`, after a rollout moved the alias) and every
 * `registryCheckIntervalMs` (an alias moved by hand in MLflow). Rollouts never
 * write here: they move workers while holding the model's rollout lease, move
 * the alias, and ask for a sync.
 */
export class FleetController {
  private lastRegistryCheck = 0;
  private readonly wanted = new Set<string>();
  private leading = false;
  private readonly traffic: TrafficSync | null;

  constructor(private readonly opts: FleetControllerOptions) {
    const { registry } = opts;
    const { registeredModelTag, resolveVersionRef } = registry;
    this.traffic =
      registeredModelTag && resolveVersionRef
        ? new TrafficSync({
            registry: { registeredModelTag: registeredModelTag.bind(registry), resolveVersionRef: resolveVersionRef.bind(registry) },
            metadataOf: opts.metadataOf,
            write: (model, state) => this.write(fleetKeys(opts.prefix).traffic, model, state),
            logger: opts.logger,
          })
        : null;
  }

  /** Asks for a registry comparison of `model` at the next tick. */
  requestSync(model: string): void {
    this.wanted.add(model);
  }

  /** One round: hold (or fail to take) the lease, then bring `active` in line with the registry where due. */
  async tick(): Promise<void> {
    const { redis, prefix, holder, leaseTtlMs, logger } = this.opts;
    const lease = JSON.stringify(controllerLeaseSchema.parse({ holder, acquiredAt: Date.now() }));
    const held = (await redis.eval(HOLD, 1, fleetKeys(prefix).controller, holder, lease, leaseTtlMs)) === 1;
    if (held !== this.leading) logger.info({ holder }, held ? 'took the fleet controller lease: this process writes the fleet state' : 'lost the fleet controller lease');
    this.leading = held;
    if (!held) return;
    const active = await readActiveModels(redis, prefix, (model, err) => {
      logger.warn({ model, err }, 'the fleet active entry is invalid; rebuilding it from the registry');
      this.wanted.add(model);
    });
    const traffic = this.traffic
      ? await readTrafficStates(redis, prefix, (model, err) => {
          logger.warn({ model, err }, 'the fleet traffic entry is invalid; rebuilding it from the registry');
          this.wanted.add(model);
        })
      : new Map<string, TrafficState>();
    const now = Date.now();
    const due = now - this.lastRegistryCheck >= this.opts.registryCheckIntervalMs;
    const models = await (this.opts.fleetModels ?? (async () => (await listWorkerStatuses(redis, prefix)).flatMap((w) => Object.keys(w.models))))();
    if (due) this.lastRegistryCheck = now;
    const toCheck = new Set([...this.wanted, ...(due ? [...active.keys(), ...traffic.keys()] : []), ...models.filter((m) => due || !active.has(m))]);
    this.wanted.clear();
    for (const model of toCheck) {
      try {
        // Traffic first: a worker that sees the model active but no traffic entry takes the plan for cleared.
        await this.syncTraffic(model, traffic.get(model) ?? null);
        await this.syncModel(model, active.get(model) ?? null);
      } catch (err) {
        this.wanted.add(model);
        logger.warn({ err, model }, 'could not compare the fleet active version with the registry; will retry');
      }
    }
  }

  /** Gives the lease up (clean shutdown), so another process takes over at once instead of after the TTL. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    await this.opts.redis.eval(RELEASE, 1, fleetKeys(this.opts.prefix).controller, this.opts.holder);
  }

  private async syncTraffic(model: string, current: TrafficState | null): Promise<void> {
    try {
      await this.traffic?.sync(model, current);
    } catch (err) {
      this.wanted.add(model);
      this.opts.logger.warn({ err, model }, 'could not compare the fleet traffic with the registry plan; will retry');
    }
  }

  private async syncModel(model: string, current: ActiveModel | null): Promise<void> {
    const { registry, alias, logger } = this.opts;
    const ref = await registry.resolveModelRef(model, alias);
    if (!ref) {
      if (current && (await this.write(fleetKeys(this.opts.prefix).active, model, null))) logger.info({ model, alias }, 'the model has no alias in the registry any more; removed from the fleet active versions');
      return;
    }
    if (current && current.version === ref.version && current.sha256 === ref.sha256) return;
    const entry = activeModelSchema.parse({ ...ref, metadata: await this.opts.metadataOf(ref) });
    if (await this.write(fleetKeys(this.opts.prefix).active, model, entry)) {
      logger.info({ model, from: current?.version ?? null, to: ref.version, alias }, current ? 'the registry alias moved; fleet active version follows it' : 'fleet active version rebuilt from the registry');
    }
  }

  private async write(hash: string, model: string, entry: ActiveModel | TrafficState | null): Promise<boolean> {
    const { redis, prefix, holder } = this.opts;
    const written = (await redis.eval(WRITE_FIELD, 2, fleetKeys(prefix).controller, hash, holder, model, entry ? JSON.stringify(entry) : '')) === 1;
    if (!written) this.leading = false;
    return written;
  }
}

