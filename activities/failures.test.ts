import { keepAliveMsFor, keepBeating } from './failures';

describe('keep-alive heartbeats', () => {
  it('beats at a quarter of the heartbeat timeout, at most every 5 s and at least every 250 ms', () => {
    expect(keepAliveMsFor(5_000)).toBe(1_250);
    expect(keepAliveMsFor(30_000)).toBe(5_000);
    expect(keepAliveMsFor(undefined)).toBe(5_000);
    expect(keepAliveMsFor(400)).toBe(250);
  });

  it('beats while the step runs and stops with it, also when it fails', async () => {
    jest.useFakeTimers();
    try {
      const beats: number[] = [];
      let finish!: () => void;
      const running = keepBeating(() => beats.push(Date.now()), 100, () => new Promise<void>((r) => (finish = r)));
      await jest.advanceTimersByTimeAsync(350);
      expect(beats).toHaveLength(3);
      finish();
      await running;
      await jest.advanceTimersByTimeAsync(500);
      expect(beats).toHaveLength(3);

      const failing = keepBeating(() => beats.push(Date.now()), 100, () => Promise.reject(new Error('boom')));
      await expect(failing).rejects.toThrow('boom');
      await jest.advanceTimersByTimeAsync(500);
      expect(beats).toHaveLength(3);
    } finally {
      jest.useRealTimers();
    }
  });
});
