import { adaptPixels, decodeToPixels, PreprocessError, type Pixels } from '../../lib/model/preprocess';
import type { ModelMetadata } from '../../lib/model/metadata';
import { pixelsToTensor } from '../../lib/model/tensor';
import type { InferenceFailureCode, RequestInput } from '../../lib/queue/messages';

/** Why a request could not be turned into an input example; becomes its error reply. */
export class ExampleError extends Error {
  constructor(
    readonly code: InferenceFailureCode,
    message: string,
  ) {
    super(message);
  }
}

/** A request's input for one model: its normalised tensor, and the uint8 pixels it was made from (what the payload log keeps). */
export interface PreparedExample {
  example: Float32Array;
  pixels: Pixels;
}

/**
 * A request's input as the normalised example of the model that will run it:
 * decoded here if the API sent the upload itself, resized if it was prepared
 * for another input geometry (a rollout between versions of different sizes),
 * and always normalised with this model's own metadata.
 */
export async function prepareExample(input: RequestInput, metadata: ModelMetadata, maxInputPixels: number): Promise<PreparedExample> {
  let pixels: Pixels;
  try {
    pixels =
      input.kind === 'image'
        ? await decodeToPixels(input.image, metadata.input, { maxInputPixels })
        : await adaptPixels({ data: input.pixels, height: input.height, width: input.width, channels: input.channels }, metadata.input);
  } catch (err) {
    if (err instanceof PreprocessError) throw new ExampleError(err.code, err.message);
    throw new ExampleError('INVALID_REQUEST', `cannot prepare the input: ${(err as Error).message}`);
  }
  return { example: pixelsToTensor(pixels.data, metadata.input, metadata.normalization), pixels };
}
