import type { ActiveModel } from '../../lib/fleet/protocol';
import { BinaryCursor, decodeBytesElements } from '../../lib/oip/binary-data';
import { TENSORS, type InferenceRequest, type RequestInput } from '../../lib/oip/protocol';
import { formatBytes, HttpError } from '../errors';
import type { RawPixels, Upload } from './predictor';

export interface OipInputLimits {
  /** Images per request (MAX_BATCH_FILES, as /predict/batch). */
  maxItems: number;
  /** Bytes per encoded image (MAX_UPLOAD_BYTES, as /predict). */
  maxItemBytes: number;
}

const bad = (message: string) => new HttpError(400, 'INVALID_TENSOR', message);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The one input of an inference request -> what the Predictor queues: `image` (BYTES [N], each element
 * an encoded image file: raw with the binary extension, base64 in JSON) or `pixels` (UINT8 [N,H,W,C] at
 * the model's geometry, HWC as decoders produce them). Every check happens before anything is queued.
 */
export function readInputs(request: InferenceRequest, binary: Buffer, model: ActiveModel, limits: OipInputLimits): Array<Upload | RawPixels> {
  const cursor = new BinaryCursor(binary);
  if (request.inputs.length !== 1) {
    throw bad(`Send exactly one input, ${TENSORS.image} (BYTES [N], encoded images) or ${TENSORS.pixels} (UINT8 [N,H,W,C]); got ${request.inputs.length}`);
  }
  const input = request.inputs[0]!;
  const count = input.shape[0] ?? 0;
  if (count > limits.maxItems) {
    throw new HttpError(413, 'TOO_MANY_INPUTS', `Input ${input.name} holds ${count} images, more than the limit of ${limits.maxItems} set by MAX_BATCH_FILES`);
  }
  let items: Array<Upload | RawPixels>;
  if (input.name === TENSORS.image) items = readImages(input, cursor, limits);
  else if (input.name === TENSORS.pixels) items = readPixels(input, cursor, model);
  else throw bad(`Unknown input ${input.name}: the inputs are ${TENSORS.image} (BYTES [N]) and ${TENSORS.pixels} (UINT8 [N,H,W,C])`);
  cursor.end();
  return items;
}

/** The binary data of `input` if it has some (parameters.binary_data_size), else null. */
function binaryOf(input: RequestInput, cursor: BinaryCursor): Buffer | null {
  const size = input.parameters?.binary_data_size;
  if (size === undefined || size === null) {
    if (input.data === undefined) throw bad(`Input ${input.name} has neither data nor parameters.binary_data_size`);
    return null;
  }
  if (input.data !== undefined) throw bad(`Input ${input.name} has both data and parameters.binary_data_size`);
  if (typeof size !== 'number') throw bad(`Input ${input.name}: binary_data_size must be a number`);
  return cursor.take(size, input.name);
}

function expectDatatype(input: RequestInput, datatype: string): void {
  if (input.datatype !== datatype) throw bad(`Input ${input.name} must be ${datatype}, not ${input.datatype}`);
}

function readImages(input: RequestInput, cursor: BinaryCursor, limits: OipInputLimits): Upload[] {
  expectDatatype(input, 'BYTES');
  if (input.shape.length !== 1 || input.shape[0]! < 1) throw bad(`Input ${input.name} must have shape [N] with N >= 1 (one encoded image per element), not [${input.shape.join(',')}]`);
  const count = input.shape[0]!;
  const raw = binaryOf(input, cursor);
  const elements = raw ? decodeBytesElements(raw, input.name) : flatten(input.data!, count, input.name).map((e, i) => fromBase64(e, input.name, i));
  if (elements.length !== count) throw bad(`Input ${input.name} has shape [${count}] but ${elements.length} elements`);
  return elements.map((bytes, i) => {
    if (bytes.length > limits.maxItemBytes) {
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `Image ${i} of input ${input.name} is larger than the limit of ${formatBytes(limits.maxItemBytes)} set by MAX_UPLOAD_BYTES`);
    }
    return { bytes, filename: `${input.name}[${i}]` };
  });
}

function fromBase64(element: unknown, tensor: string, index: number): Buffer {
  if (typeof element !== 'string' || element.length % 4 === 1 || !BASE64.test(element)) {
    throw bad(`Element ${index} of input ${tensor} is not a base64 string: in JSON, each BYTES element is the base64 of an image file (or send it raw with the binary tensor data extension)`);
  }
  return Buffer.from(element, 'base64');
}

function readPixels(input: RequestInput, cursor: BinaryCursor, model: ActiveModel): RawPixels[] {
  expectDatatype(input, 'UINT8');
  const { height, width, channels } = model.metadata.input;
  const [count, h, w, c] = input.shape;
  if (input.shape.length !== 4 || h !== height || w !== width || c !== channels || count! < 1) {
    throw bad(`Input ${input.name} must have shape [N,${height},${width},${channels}] (${model.name} v${model.version}'s input geometry, HWC), not [${input.shape.join(',')}]`);
  }
  const size = height * width * channels;
  const total = count! * size;
  const raw = binaryOf(input, cursor);
  let pixels: Uint8Array;
  if (raw) {
    if (raw.length !== total) throw bad(`Input ${input.name} of shape [${input.shape.join(',')}] needs ${total} bytes of binary data, got ${raw.length}`);
    pixels = raw;
  } else {
    const values = flatten(input.data!, total, input.name);
    if (values.length !== total) throw bad(`Input ${input.name} of shape [${input.shape.join(',')}] needs ${total} values, got ${values.length}`);
    pixels = new Uint8Array(total);
    values.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw bad(`Value ${i} of input ${input.name} is not a UINT8 (an integer from 0 to 255)`);
      pixels[i] = v;
    });
  }
  return Array.from({ length: count! }, (_, i) => ({ pixels: pixels.subarray(i * size, (i + 1) * size), height, width, channels }));
}

/** Row-major data, nested or flat -> flat; stops counting past `expected` so a huge body cannot blow up. */
function flatten(data: unknown[], expected: number, tensor: string): unknown[] {
  const out: unknown[] = [];
  const walk = (value: unknown): void => {
    if (out.length > expected) return;
    if (Array.isArray(value)) for (const v of value) walk(v);
    else out.push(value);
  };
  walk(data);
  if (out.length > expected) throw bad(`Input ${tensor} has more elements than its shape allows (${expected})`);
  return out;
}
