import type { ModelInputSpec, ModelNormalization } from './metadata';

/**
 * Interleaved 8-bit pixels (HWC, as image decoders and the golden set store
 * them) to a normalised planar float32 example (CHW), x = (p*scale - mean[c]) / std[c].
 * Shared by the API's preprocessing and the worker's golden check so both
 * apply exactly the same arithmetic.
 */
export function pixelsToTensor(pixels: ArrayLike<number>, input: ModelInputSpec, norm: ModelNormalization): Float32Array {
  const { channels, height, width } = input;
  const plane = height * width;
  if (pixels.length !== plane * channels) {
    throw new RangeError(`expected ${plane * channels} pixel values, got ${pixels.length}`);
  }
  const out = new Float32Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    const mean = norm.mean[c] ?? 0;
    const std = norm.std[c] ?? 1;
    for (let i = 0; i < plane; i++) {
      out[c * plane + i] = ((pixels[i * channels + c] ?? 0) * norm.scale - mean) / std;
    }
  }
  return out;
}
