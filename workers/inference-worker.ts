/**
 * Inference worker process: serves its models' request streams in dynamic
 * batches with onnxruntime-node and follows the fleet's rollouts.
 * Configuration: see workers/inference/config.ts (environment variables only).
 */
import { runInferenceWorkerProcess } from './inference/run-process';

runInferenceWorkerProcess();
