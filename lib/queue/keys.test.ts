import calculateSlot from 'cluster-key-slot';
import { fleetKeys } from '../fleet/protocol';
import { payloadLogKeys } from '../payload-log/keys';
import { queueKeys } from './keys';

/** Redis Cluster slots of the key layout: what must share a slot for the scripts and MULTIs to run on a cluster. */
describe('Redis key layout on a cluster', () => {
  const prefix = 'lc:';
  const queue = queueKeys(prefix);
  const fleet = fleetKeys(prefix);
  const plog = payloadLogKeys(prefix);

  it("puts a model's request stream, rollout lease and payload-log keys in one slot", () => {
    const model = 'fashion-mnist-classifier';
    const slots = new Set(
      [queue.requests(model), fleet.lease(model), plog.prediction(model, 'r1'), plog.feedback(model, 'r1'), plog.window(model, '3'), plog.accuracy(model), plog.labels(model), plog.payloads(model), plog.feedbackStream(model)].map((k) => calculateSlot(k)),
    );
    expect(slots.size).toBe(1);
  });

  it('gives different models different slots, whatever the prefix', () => {
    expect(calculateSlot(queue.requests('model-a'))).not.toBe(calculateSlot(queue.requests('model-b')));
    expect(calculateSlot(queueKeys('other:').requests('model-a'))).toBe(calculateSlot(queue.requests('model-a')));
  });

  it('keeps the fleet-wide keys (one script writes active under the controller lease) in one slot', () => {
    const slots = new Set([fleet.active, fleet.traffic, fleet.controller, fleet.workers, fleet.workerStatus('w1'), fleet.workerStatus('w2')].map((k) => calculateSlot(k)));
    expect(slots.size).toBe(1);
  });

  it("gives each API instance's reply stream the slot of its instance id", () => {
    expect(calculateSlot(queue.replies('api-1'))).toBe(calculateSlot('{api-1}'));
    expect(calculateSlot(queue.replies('api-1'))).not.toBe(calculateSlot(queue.replies('api-2')));
  });
});
