import sharp, { type OutputInfo, type Sharp } from 'sharp';
import type { ModelInputSpec, ModelMetadata } from './metadata';
import { sniffImageFormat } from './image-format';
import { pixelsToTensor } from './tensor';

export type PreprocessErrorCode = 'UNSUPPORTED_IMAGE' | 'IMAGE_TOO_LARGE' | 'IMAGE_CORRUPT';

/**
 * UNSUPPORTED_IMAGE: not an image in a supported format (API: 415).
 * IMAGE_TOO_LARGE: more pixels than allowed, refused from the header before decoding (422).
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

/** Decoded pixels: 8-bit, interleaved (HWC), and the geometry they have. */
export interface Pixels {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

function classify(err: unknown): PreprocessError {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(message)) return new PreprocessError('UNSUPPORTED_IMAGE', 'The upload is not a supported image (PNG, JPEG, WebP, GIF or TIFF)');
  if (/pixel limit/i.test(message)) return new PreprocessError('IMAGE_TOO_LARGE', 'The image has too many pixels');
  return new PreprocessError('IMAGE_CORRUPT', `The image could not be decoded: ${message}`);
}

const BLACK = { r: 0, g: 0, b: 0 };

/** Fits any image into the model's input geometry (letterbox onto black) and colourspace. */
function toGeometry(pipeline: Sharp, input: ModelInputSpec): Sharp {
  const fitted = pipeline.resize(input.width, input.height, { fit: 'contain', background: BLACK });
  return input.colorspace === 'grayscale' ? fitted.toColourspace('b-w') : fitted.toColourspace('srgb');
}

async function rawPixels(pipeline: Sharp, input: ModelInputSpec): Promise<Pixels> {
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
  return { data: raw.data, height: raw.info.height, width: raw.info.width, channels: raw.info.channels };
}

/**
 * Decodes an upload into the model's input geometry: 8-bit pixels, HWC, in
 * the model's colourspace. One sharp pipeline per upload (the format is
 * sniffed from the magic number, the pixel limit is enforced by libvips from
 * the header before decoding).
 *
 * Geometry: the image is letterboxed (`fit: contain`) onto black. Fashion-MNIST
 * style models were trained on a centred object over a black background, so
 * padding with black keeps the whole object and its aspect ratio and adds only
 * "background"; stretching (`fill`) would distort shapes and cropping (`cover`)
 * would cut off parts of the object. Transparency is flattened onto black for
 * the same reason, and EXIF orientation is applied first.
 */
export async function decodeToPixels(image: Uint8Array, input: ModelInputSpec, opts: PreprocessOptions): Promise<Pixels> {
  const format = sniffImageFormat(image);
  if (!format) throw new PreprocessError('UNSUPPORTED_IMAGE', 'The upload is not a supported image (PNG, JPEG, WebP, GIF or TIFF)');
  let pipeline: Sharp;
  try {
    pipeline = sharp(image, { limitInputPixels: opts.maxInputPixels, failOn: 'error' }).rotate().flatten({ background: BLACK });
  } catch (err) {
    throw classify(err);
  }
  return rawPixels(toGeometry(pipeline, input), input);
}

/** Whether `pixels` already have the model's input geometry. */
export function fitsInput(pixels: Pick<Pixels, 'height' | 'width' | 'channels'>, input: ModelInputSpec): boolean {
  return pixels.height === input.height && pixels.width === input.width && pixels.channels === input.channels;
}

/**
 * Pixels made for one geometry, brought to another (a rollout between model
 * versions with different input sizes): resized and converted like an upload.
 */
export async function adaptPixels(pixels: Pixels, input: ModelInputSpec): Promise<Pixels> {
  if (fitsInput(pixels, input)) return pixels;
  const source = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels as 1 | 3 } });
  return rawPixels(toGeometry(source, input), input);
}

/** Upload -> the model's normalised input example (CHW float32): decode, then normalise with this model's metadata. */
export async function preprocessImage(image: Uint8Array, metadata: ModelMetadata, opts: PreprocessOptions): Promise<Float32Array> {
  const pixels = await decodeToPixels(image, metadata.input, opts);
  return pixelsToTensor(pixels.data, metadata.input, metadata.normalization);
}
