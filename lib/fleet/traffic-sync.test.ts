import { createLogger } from '../logger';
import { testMetadata } from '../../tests/support/metadata';
import { TRAFFIC_PLAN_TAG, type ModelRef, type TrafficState } from './protocol';
import { TrafficSync } from './traffic-sync';

const ref: ModelRef = { name: 'm', version: '2', sha256: 'b'.repeat(64), artifactUri: 'x' };
const plan = { version: '2', mode: 'canary', share: 0.2, mirrorShare: 0.25, deploymentId: 'd', setAt: 5 };

function setup(tag: string | null, metadataFails = false) {
  const tags = new Map<string, string | null>([[`m/${TRAFFIC_PLAN_TAG}`, tag]]);
  const writes: Array<TrafficState | null> = [];
  let reads = 0;
  const sync = new TrafficSync({
    registry: {
      registeredModelTag: (name, key) => Promise.resolve(tags.get(`${name}/${key}`) ?? null),
      resolveVersionRef: (_name, version) => Promise.resolve(version === '2' ? ref : null),
    },
    metadataOf: () => {
      reads++;
      return metadataFails ? Promise.reject(new Error('sha256 mismatch')) : Promise.resolve(testMetadata());
    },
    write: (_model, state) => {
      writes.push(state);
      return Promise.resolve(true);
    },
    logger: createLogger('test', 'silent'),
  });
  return { sync, writes, tags, reads: () => reads };
}

describe('TrafficSync', () => {
  it('writes the plan with its candidate, leaves an identical entry alone, and clears it when the tag goes', async () => {
    const { sync, writes, tags } = setup(JSON.stringify(plan));
    await sync.sync('m', null);
    expect(writes).toHaveLength(1);
    const state = writes[0]!;
    expect(state).toMatchObject({ ...plan, candidate: { ...ref, metadata: { labels: testMetadata().labels } } });
    await sync.sync('m', state);
    expect(writes).toHaveLength(1);
    tags.set(`m/${TRAFFIC_PLAN_TAG}`, null);
    await sync.sync('m', state);
    expect(writes).toEqual([state, null]);
  });

  it('takes a tag that is not a plan, or names an unknown version, for no plan', async () => {
    const current = { ...plan, mode: 'canary' as const, candidate: { ...ref, metadata: testMetadata() } };
    for (const tag of ['{not json', JSON.stringify({ ...plan, share: 7 }), JSON.stringify({ ...plan, version: '9' })]) {
      const { sync, writes } = setup(tag);
      await sync.sync('m', current);
      expect(writes).toEqual([null]);
    }
  });

  it('does not read a candidate whose file failed again until the backoff has passed', async () => {
    const { sync, writes, reads } = setup(JSON.stringify(plan), true);
    await expect(sync.sync('m', null)).rejects.toThrow('sha256 mismatch');
    await sync.sync('m', null);
    expect(reads()).toBe(1);
    expect(writes).toEqual([]);
  });
});
