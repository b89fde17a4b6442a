import { encodeBytesElements, HEADER_LENGTH } from '../lib/oip/binary-data';
import type { PreparedRequest } from './wrk';

/**
 * POST /v2/models/{name}/infer bodies as tritonclient sends them by default: one image per request as a
 * BYTES input with the binary tensor data extension, every output answered as binary data.
 */
export function oipInferRequests(images: Buffer[]): PreparedRequest[] {
  return images.map((image) => {
    const raw = encodeBytesElements([image]);
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: raw.length } }], parameters: { binary_data_output: true } }));
    return { body: Buffer.concat([json, raw]), headers: { 'Content-Type': 'application/octet-stream', [HEADER_LENGTH]: String(json.length) } };
  });
}
