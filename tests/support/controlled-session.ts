import { createOrtSession, type CreateSession } from '../../lib/model/model-runner';

/** Knobs a test turns after a model loaded (load-time golden and warm-up runs are never affected). */
export interface SessionControl {
  /** Added latency per served batch. */
  delayMs: number;
  /** Served batches never finish (a worker stuck or about to be killed). */
  hang: boolean;
  /** Number of runs that started while `hang` or `delayMs` applied. */
  affectedRuns: number;
}

/** Real onnxruntime sessions whose `run` the test can slow down or stall through `control`. */
export function controlledSessions(control: SessionControl): CreateSession {
  return async (onnx, opts) => {
    const session = await createOrtSession(onnx, opts);
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      release: () => session.release(),
      run: async (feeds) => {
        if (control.hang || control.delayMs > 0) control.affectedRuns++;
        if (control.hang) await new Promise<never>(() => undefined);
        if (control.delayMs > 0) await new Promise((r) => setTimeout(r, control.delayMs));
        return session.run(feeds);
      },
    };
  };
}
