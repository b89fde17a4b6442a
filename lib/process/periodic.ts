/**
 * Runs `task` every `intervalMs`, never overlapping itself: the next run is
 * scheduled when the previous one settles. `kick()` runs it as soon as the
 * current run (if any) is done. Errors are handed to `onError`; the schedule goes on.
 */
export function periodic(intervalMs: number, task: () => Promise<void>, onError: (err: unknown) => void): { kick(): void; stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let again = false;
  let stopped = false;
  const run = async (): Promise<void> => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    if (timer) clearTimeout(timer);
    try {
      await task();
    } catch (err) {
      onError(err);
    } finally {
      running = false;
      if (!stopped) {
        if (again) {
          again = false;
          void run();
        } else timer = setTimeout(() => void run(), intervalMs);
      }
    }
  };
  timer = setTimeout(() => void run(), intervalMs);
  return {
    kick: () => void run(),
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
