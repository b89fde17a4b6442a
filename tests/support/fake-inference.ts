import type { ActiveModel } from '../../lib/fleet/protocol';
import type { InferenceResult, InferItem } from '../../lib/queue/inference-client';
import type { ServedModelSource } from '../../api/services/served-models';

/** A queue that answers each item with `outcome(item)` and records what it was given. */
export function fakeQueue(outcome: (item: InferItem) => Promise<InferenceResult>, enqueue: () => Promise<void> = () => Promise.resolve()) {
  const calls: InferItem[] = [];
  return {
    calls,
    inferMany: async (items: InferItem[]) => {
      await enqueue();
      calls.push(...items);
      return items.map((item) => outcome(item));
    },
    queueDepth: () => Promise.resolve(3),
  };
}

/** A fixed set of served models. */
export function servedModels(...models: ActiveModel[]): ServedModelSource {
  const byName = new Map(models.map((m) => [m.name, m]));
  return { get: (name) => byName.get(name) ?? null, list: () => [...byName.values()] };
}

/** What the fake queue of the route tests answers for every image: top-1 Bag, from version 3. */
export const bagResult: InferenceResult = {
  model: { name: 'fashion-mnist-classifier', version: '3' },
  predictions: [
    { label: 'Bag', probability: 0.7 },
    { label: 'Coat', probability: 0.1 },
    { label: 'Shirt', probability: 0.1 },
    { label: 'Dress', probability: 0.05 },
    { label: 'Sandal', probability: 0.05 },
  ],
};
