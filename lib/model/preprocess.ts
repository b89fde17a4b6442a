import sharp, { type OutputInfo } from 'sharp';
import type { ModelMetadata } from './metadata';
import { pixelsToTensor } from './tensor';

/** Formats the API accepts (the DESIGN's list); anything else sharp can read (SVG, AVIF, PDF...) is refused. */
export const SUPPORTED_IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'gif', 'tiff'] as const;

export type PreprocessErrorCode = 'UNSUPPORTED_IMAGE' | 'IMAGE_TOO_LARGE' | 'IMAGE_CORRUPT';

/**
 * UNSUPPORTED_IMAGE: not an image in a supported format (API: 415).
 * IMAGE_TOO_LARGE: more pixels than allowed, refused before decoding (422).
 * IMAGE_CORRUPT: a supported format whose data does not decode (422).
 */
export class PreprocessError extends Error {
  constructor(
    readonly code: PreprocessErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PreprocessError';
  }
}

export interface PreprocessOptions {
  /** Upper bound on width*height of the upload; protects against decompression bombs. */
  maxInputPixels: number;
}

function classify(err: unknown): PreprocessError {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(message)) return new PreprocessError('UNSUPPORTED_IMAGE', 'The upload is not a supported image (PNG, JPEG, WebP, GIF or TIFF)');
  if (/pixel limit/i.test(message)) return new PreprocessError('IMAGE_TOO_LARGE', 'The image has too many pixels');
  return new PreprocessError('IMAGE_CORRUPT', `The image could not be decoded: ${message}`);
}

/**
 * Decodes an upload and turns it into the model's input example (CHW float32,
 * normalised), driven entirely by the model's metadata.
 *
 * Geometry: the image is letterboxed (`fit: contain`) onto black. Fashion-MNIST
 * style models were trained on a centred object over a black background, so
 * padding with black keeps the whole object and its aspect ratio and adds only
 * "background"; stretching (`fill`) would distort shapes and cropping (`cover`)
 * would cut off parts of the object. Transparency is flattened onto black for
 * the same reason, and EXIF orientation is applied first.
 */
export async function preprocessImage(image: Buffer, metadata: ModelMetadata, opts: PreprocessOptions): Promise<Float32Array> {
  const { input, normalization } = metadata;
  const sharpOpts = { limitInputPixels: opts.maxInputPixels, failOn: 'error' as const };
  let format: string | undefined;
  try {
    // Reads the header only: the format and pixel limit are checked before any decoding work.
    format = (await sharp(image, sharpOpts).metadata()).format;
  } catch (err) {
    throw classify(err);
  }
  if (!(SUPPORTED_IMAGE_FORMATS as readonly string[]).includes(format ?? '')) {
    throw new PreprocessError('UNSUPPORTED_IMAGE', `Image format ${format ?? 'unknown'} is not supported`);
  }

  const black = { r: 0, g: 0, b: 0 };
  let pipeline = sharp(image, sharpOpts)
    .rotate()
    .flatten({ background: black })
    .resize(input.width, input.height, { fit: 'contain', background: black });
  pipeline = input.colorspace === 'grayscale' ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');

  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw classify(err);
  }
  if (raw.info.channels !== input.channels || raw.info.width !== input.width || raw.info.height !== input.height) {
    // Should not happen after the conversions above; a clear error beats a silently wrong tensor.
    throw new PreprocessError(
      'IMAGE_CORRUPT',
      `Decoded to ${raw.info.width}x${raw.info.height}x${raw.info.channels}, expected ${input.width}x${input.height}x${input.channels}`,
    );
  }
  return pixelsToTensor(raw.data, input, normalization);
}
