import type { ModelMetadata } from '../../lib/model/metadata';
import { pixelsToTensor } from '../../lib/model/tensor';
import { ModelLoadError } from './model-errors';
import type { ModelRunner } from '../../lib/model/model-runner';

/** Tolerance on top-1 probabilities: float32 math differs slightly between the trainer's runtime and onnxruntime. */
export const GOLDEN_TOLERANCE = 1e-3;

/**
 * Runs the golden set recorded at registration (raw pixels, expected top-1
 * label and probability) through the model, with the serving preprocessing.
 * Catches a file that loads but computes something else than what was
 * evaluated (wrong preprocessing contract, broken export, wrong artifact).
 */
export async function runGoldenCheck(runner: ModelRunner, metadata: ModelMetadata, tolerance = GOLDEN_TOLERANCE): Promise<number> {
  const golden = metadata.golden;
  if (!golden) return 0;
  const examples = golden.inputs.map((pixels) => pixelsToTensor(pixels, metadata.input, metadata.normalization));
  const probs = await runner.probabilities(examples);
  probs.forEach((p, i) => {
    let best = 0;
    for (let c = 1; c < p.length; c++) if ((p[c] ?? 0) > (p[best] ?? 0)) best = c;
    const label = metadata.labels[best];
    const expectedLabel = golden.expected_labels[i];
    const expectedProb = golden.expected_probabilities[i] ?? NaN;
    const prob = p[best] ?? NaN;
    if (label !== expectedLabel) {
      throw new ModelLoadError('GOLDEN_CHECK_FAILED', `golden example ${i}: predicted ${label}, expected ${expectedLabel}`);
    }
    if (!(Math.abs(prob - expectedProb) <= tolerance)) {
      throw new ModelLoadError('GOLDEN_CHECK_FAILED', `golden example ${i}: probability ${prob.toFixed(6)}, expected ${expectedProb.toFixed(6)} ±${tolerance}`);
    }
  });
  return examples.length;
}
