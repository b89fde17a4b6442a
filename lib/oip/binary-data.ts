/**
 * The protocol's binary tensor data extension, both directions: a body is a JSON object followed by the
 * raw tensors of the inputs (or outputs) that carry `parameters.binary_data_size`, in their order, the
 * JSON's length given by the `Inference-Header-Content-Length` header. Tensors are little-endian,
 * row-major, without padding; a BYTES element is a 4-byte little-endian length and its bytes.
 */

/** The header naming the length of the JSON part of a body with binary tensors. */
export const HEADER_LENGTH = 'inference-header-content-length';

/** A request the extension cannot make sense of (a 400 for the client). */
export class TensorDataError extends Error {
  constructor(
    readonly code: 'INVALID_JSON' | 'INVALID_BINARY_DATA' | 'INVALID_TENSOR',
    message: string,
  ) {
    super(message);
    this.name = 'TensorDataError';
  }
}

/** Splits a body into its JSON object and the binary data after it (empty without the header). */
export function splitBody(body: Buffer, headerLength: string | string[] | undefined): { json: unknown; binary: Buffer } {
  let jsonEnd = body.length;
  if (headerLength !== undefined) {
    const raw = Array.isArray(headerLength) ? headerLength[0] : headerLength;
    const length = Number(raw);
    if (!/^\d+$/.test(raw ?? '') || length > body.length) {
      throw new TensorDataError('INVALID_BINARY_DATA', `Inference-Header-Content-Length is ${raw}, not an integer between 0 and the body's ${body.length} bytes`);
    }
    jsonEnd = length;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.subarray(0, jsonEnd).toString('utf8'));
  } catch (err) {
    const where = headerLength === undefined ? 'The body' : `The first ${jsonEnd} bytes of the body (Inference-Header-Content-Length)`;
    throw new TensorDataError('INVALID_JSON', `${where} is not a JSON inference request: ${(err as Error).message}`);
  }
  return { json, binary: body.subarray(jsonEnd) };
}

/** Hands out the binary data of successive tensors, and checks that nothing is left over. */
export class BinaryCursor {
  private offset = 0;
  constructor(private readonly data: Buffer) {}

  take(size: number, tensor: string): Buffer {
    if (!Number.isSafeInteger(size) || size < 0) throw new TensorDataError('INVALID_BINARY_DATA', `Input ${tensor}: binary_data_size must be a non-negative integer`);
    if (this.offset + size > this.data.length) {
      throw new TensorDataError('INVALID_BINARY_DATA', `Input ${tensor}: binary_data_size ${size} runs past the ${this.data.length - this.offset} bytes of binary data left in the body`);
    }
    const chunk = this.data.subarray(this.offset, this.offset + size);
    this.offset += size;
    return chunk;
  }

  /** Binary data no tensor claimed is an error: the sizes and the body disagree. */
  end(): void {
    const left = this.data.length - this.offset;
    if (left > 0) throw new TensorDataError('INVALID_BINARY_DATA', `${left} bytes of binary data after the JSON belong to no input (binary_data_size of the inputs)`);
  }
}

/** A BYTES tensor's binary data -> its elements (views on `data`, no copy). */
export function decodeBytesElements(data: Buffer, tensor: string): Buffer[] {
  const elements: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (offset + 4 > data.length) throw new TensorDataError('INVALID_BINARY_DATA', `Input ${tensor}: BYTES element ${elements.length} lacks its 4-byte length`);
    const length = data.readUInt32LE(offset);
    offset += 4;
    if (offset + length > data.length) throw new TensorDataError('INVALID_BINARY_DATA', `Input ${tensor}: BYTES element ${elements.length} says ${length} bytes, ${data.length - offset} are left`);
    elements.push(data.subarray(offset, offset + length));
    offset += length;
  }
  return elements;
}

/** Elements of a BYTES tensor -> its binary data. */
export function encodeBytesElements(elements: Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(elements.reduce((n, e) => n + 4 + e.length, 0));
  let offset = 0;
  for (const e of elements) {
    out.writeUInt32LE(e.length, offset);
    e.copy(out, offset + 4);
    offset += 4 + e.length;
  }
  return out;
}

/** FP32 values -> little-endian binary data. */
export function encodeFp32(values: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i] ?? 0, i * 4);
  return out;
}

/** A response body: the JSON object, then the binary tensors in output order; `headerLength` goes in Inference-Header-Content-Length. */
export function encodeBody(json: unknown, binary: Buffer[]): { body: Buffer; headerLength: number } {
  const head = Buffer.from(JSON.stringify(json), 'utf8');
  return { body: Buffer.concat([head, ...binary]), headerLength: head.length };
}
