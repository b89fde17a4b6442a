/**
 * Drill 4: kill -9 of an API instance with requests in flight, two instances behind the
 * drill's client (the stack's second one when it runs API_INSTANCES=2, else a second
 * instance the drill starts on the stack's Redis prefix). The other instance must keep
 * answering; the requests in flight on the killed one fail at the connection (reported
 * apart from "lost"); nothing stays in Redis: the model's request stream drains and the
 * dead instance's reply stream expires.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { queueKeys } from '../../lib/queue/keys';
import { requestStream } from '../consistency';
import { waitFor, type Drill } from '../drill';
import { startApi } from '../extra-processes';
import { backUnderNewPid, signalNow } from './common';

interface Victim {
  url: string;
  instanceId: string;
  /** Sends SIGKILL now (synchronously: the requests in flight are counted right before). */
  kill: () => void;
  /** For a supervised instance: ms until it is back under a new pid and ready; null otherwise. */
  back: () => Promise<number | null>;
  supervised: boolean;
}

export const apiKill: Drill = {
  name: 'api-kill',
  fault: 'kill -9 of an API instance with requests in flight (2 instances)',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const apis = stack.ofKind('api');
    let victim: Victim;
    if (apis.length >= 2) {
      const name = apis[1]!.name;
      const before = await stack.process(name);
      victim = {
        url: stack.apiUrls[1]!,
        instanceId: stack.processEnv(name).API_INSTANCE_ID ?? name,
        supervised: true,
        kill: () => signalNow(ctx, before, 'SIGKILL'),
        back: () => backUnderNewPid(ctx, before, 60_000),
      };
    } else {
      const instanceId = `drill-api-kill-${process.pid}`;
      const extra = await startApi(ctx, instanceId);
      victim = {
        url: extra.url,
        instanceId,
        supervised: false,
        kill: () => {
          extra.proc.kill('SIGKILL');
          ctx.log(`SIGKILL -> ${instanceId} (pid ${extra.proc.pid}, started by the drill)`);
        },
        back: () => Promise.resolve(null),
      };
      // Its reply stream outlives it by design (it expires); the drill checks that, then removes it.
      ctx.defer('remove the dead instance\'s reply stream', () => stack.redis.del(queueKeys(stack.prefix).replies(instanceId)));
    }
    const survivor = stack.apiUrls[0]!;
    const load = ctx.startLoad([survivor, victim.url]);
    await ctx.settle();
    // Kill it while it holds requests: wait for a moment with some in flight there.
    await waitFor(() => Promise.resolve(load.inFlightOn(victim.url) > 0), 10_000, 1);
    const inFlight = load.inFlightOn(victim.url);
    const killedAt = Date.now();
    victim.kill();
    const back = await victim.back();
    await sleep(ctx.settleMs * 2);
    const summary = await load.stop();

    const failed = load.records.filter((r) => r.outcome === 'conn-failed');
    ctx.expect(summary.lost === 0, `${summary.lost} request(s) lost (no answer within 20 s)`);
    ctx.expect(Object.keys(summary.errors).length === 0, `answered with errors: ${JSON.stringify(summary.errors)}`);
    // Failing at the connection is what a request caught on the killed instance may do: in flight at the kill,
    // or sent on its (already dead) keep-alive connection before the client could know. Nothing else may fail.
    const noticedAt = failed.reduce((m, r) => Math.min(m, r.endedAt), Infinity);
    const stray = failed.filter((r) => r.target !== victim.url || r.startedAt > noticedAt);
    ctx.expect(stray.length === 0, `${stray.length} request(s) failed at the connection that were neither in flight on the killed instance nor sent before its failure was seen`);
    const sentAfterKill = failed.filter((r) => r.startedAt > killedAt).length;
    const survived = load.count((r) => r.outcome === 'ok' && r.target === survivor && r.startedAt > killedAt);
    ctx.expect(survived > 0, 'the other instance answered nothing after the kill');

    const drained = await waitFor(async () => {
      const s = await requestStream(stack);
      return s.length === 0 && s.pending === 0;
    }, 15_000);
    ctx.expect(drained !== null, 'the request stream did not drain within 15 s of the kill');
    const replies = queueKeys(stack.prefix).replies(victim.instanceId);
    const ttl = await stack.redis.pttl(replies);
    ctx.expect(ttl !== -1, `the dead instance's reply stream ${replies} has no expiry`);
    ctx.note(`${inFlight} in flight on the killed instance at the kill; ${failed.length} failed at the connection (${[...new Set(failed.map((r) => r.error))].join(', ')}; ${sentAfterKill} sent on its dead connection in the ${noticedAt === Infinity ? 0 : noticedAt - killedAt} ms before the client saw it fail), ${summary.rerouted} rerouted after refusal, ${survived} answered by the other after the kill; its reply stream ${ttl === -2 ? 'is gone' : `expires in ${Math.round(ttl / 1000)} s`}`);
    if (victim.supervised) ctx.expect(back !== null, 'the killed API instance was not restarted and ready within 60 s');
    const firstAfter = load.records.filter((r) => r.outcome === 'ok' && r.target === survivor && r.startedAt > killedAt).reduce((m, r) => Math.min(m, r.endedAt), Infinity);
    return {
      load: summary,
      workflow: '-',
      recoverMs: victim.supervised ? back : Number.isFinite(firstAfter) ? firstAfter - killedAt : null,
      recoveredWhen: victim.supervised ? 'killed instance restarted by supervisord and ready' : "first 200 from the other instance after the kill (the killed one is the drill's own: not restarted)",
    };
  },
};
