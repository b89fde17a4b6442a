import { decodeReply, decodeRequest, encodeReply, encodeRequest, MessageDecodeError, type InferenceRequest } from './messages';

const toFields = (flat: Array<string | Buffer>): Map<string, Buffer> => {
  const m = new Map<string, Buffer>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), Buffer.isBuffer(flat[i + 1]) ? (flat[i + 1] as Buffer) : Buffer.from(String(flat[i + 1])));
  return m;
};

const request: InferenceRequest = {
  id: 'c1',
  requestId: 'r1',
  replyTo: 'lc:inference:replies:api-1',
  deadline: 1_700_000_010_000,
  enqueuedAt: 1_700_000_000_000,
  model: 'fashion',
  dims: [1, 1, 2, 2],
  tensor: Float32Array.from([0.5, -1.25, 3, 1e-7]),
};

describe('request messages', () => {
  it('round-trips a request with its float32 tensor intact', () => {
    expect(decodeRequest(toFields(encodeRequest(request)))).toEqual(request);
  });

  it('decodes a tensor from an unaligned buffer (as sockets deliver them)', () => {
    const fields = toFields(encodeRequest(request));
    const raw = fields.get('tensor')!;
    const unaligned = Buffer.alloc(raw.length + 1).subarray(1);
    raw.copy(unaligned);
    fields.set('tensor', unaligned);
    expect(Array.from(decodeRequest(fields).tensor)).toEqual(Array.from(request.tensor));
  });

  it('rejects a tensor that does not match its dims', () => {
    const fields = toFields(encodeRequest({ ...request, dims: [1, 1, 28, 28] }));
    expect(() => decodeRequest(fields)).toThrow(MessageDecodeError);
  });

  it('rejects an entry without a deadline', () => {
    const fields = toFields(encodeRequest(request));
    fields.delete('deadline');
    expect(() => decodeRequest(fields)).toThrow(/deadline/);
  });
});

describe('reply messages', () => {
  it('round-trips success and failure replies', () => {
    const ok = { id: 'c1', ok: true as const, model: { name: 'm', version: '2' }, predictions: [{ label: 'Bag', probability: 0.9 }] };
    const failed = { id: 'c2', ok: false as const, code: 'MODEL_MISMATCH' as const, message: 'no' };
    expect(decodeReply(toFields(encodeReply(ok)))).toEqual(ok);
    expect(decodeReply(toFields(encodeReply(failed)))).toEqual(failed);
  });

  it('rejects a malformed reply', () => {
    expect(() => decodeReply(toFields(['r', '{"id":"x","ok":true}']))).toThrow(MessageDecodeError);
  });
});
