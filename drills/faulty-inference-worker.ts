/**
 * Drills only: an inference worker that fails the golden check of the versions named in
 * DRILL_FAIL_GOLDEN_CHECK (comma-separated `model@version`), so a rollout failing on one chosen worker
 * can be rehearsed on the real fleet. The fault lives here, not in the production worker's configuration.
 */
import { runInferenceWorkerProcess } from '../workers/inference/run-process';

const failing = (process.env.DRILL_FAIL_GOLDEN_CHECK ?? '').split(',').map((s) => s.trim()).filter(Boolean);
runInferenceWorkerProcess({ failGoldenCheck: new Set(failing) });
