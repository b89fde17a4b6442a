import type { WorkerStatus } from '../../lib/fleet/protocol';
import { candidateReady } from './served-traffic';

const worker = (workerId: string, served: WorkerStatus['models'][string], state: WorkerStatus['state'] = 'ready'): WorkerStatus => ({ workerId, state, models: { m: served }, updatedAt: 0 });
const champion = { version: '1', sha256: 'a'.repeat(64), state: 'ready' as const };

describe('candidateReady', () => {
  it('is true only when every live worker serving the model has the candidate ready', () => {
    const ready = worker('w1', { ...champion, candidate: { version: '2', state: 'ready' } });
    expect(candidateReady([ready], 'm', '2')).toBe(true);
    expect(candidateReady([ready, worker('w2', { ...champion, candidate: { version: '2', state: 'loading' } })], 'm', '2')).toBe(false);
    expect(candidateReady([ready, worker('w2', champion)], 'm', '2')).toBe(false);
    expect(candidateReady([ready, worker('w3', { ...champion, candidate: { version: '2', state: 'failed', error: { code: 'GOLDEN_CHECK_FAILED', message: 'x' } } })], 'm', '2')).toBe(false);
  });

  it('ignores draining workers, counts a worker whose champion is the candidate, and is false with no worker at all', () => {
    const ready = worker('w1', { ...champion, candidate: { version: '2', state: 'ready' } });
    expect(candidateReady([ready, worker('w2', champion, 'draining')], 'm', '2')).toBe(true);
    expect(candidateReady([ready, worker('w3', { ...champion, version: '2' })], 'm', '2')).toBe(true);
    expect(candidateReady([], 'm', '2')).toBe(false);
  });
});
