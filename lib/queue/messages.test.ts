import { decodeReplies, decodeRequest, encodeReplies, encodeRequest, MessageDecodeError, type InferenceRequest } from './messages';

const toFields = (flat: Array<string | Buffer>): Map<string, Buffer> => {
  const m = new Map<string, Buffer>();
  for (let i = 0; i < flat.length; i += 2) m.set(String(flat[i]), Buffer.isBuffer(flat[i + 1]) ? (flat[i + 1] as Buffer) : Buffer.from(String(flat[i + 1])));
  return m;
};

const base = {
  id: 'c1',
  requestId: 'r1',
  replyTo: 'lc:inference:replies:api-1',
  deadline: 1_700_000_010_000,
  enqueuedAt: 1_700_000_000_000,
  model: 'fashion',
};
const pixelsRequest: InferenceRequest = { ...base, input: { kind: 'pixels', pixels: Uint8Array.from([0, 7, 255, 128, 1, 2]), height: 1, width: 2, channels: 3 } };

describe('request messages', () => {
  it('round-trips decoded pixels with their geometry', () => {
    const decoded = decodeRequest(toFields(encodeRequest(pixelsRequest)));
    expect({ ...decoded, input: { ...decoded.input, pixels: Array.from((decoded.input as { pixels: Uint8Array }).pixels) } }).toEqual({
      ...pixelsRequest,
      input: { ...pixelsRequest.input, pixels: [0, 7, 255, 128, 1, 2] },
    });
  });

  it('round-trips an encoded upload (decode in the worker)', () => {
    const image = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const decoded = decodeRequest(toFields(encodeRequest({ ...base, input: { kind: 'image', image } })));
    expect(decoded.input).toEqual({ kind: 'image', image });
  });

  it('round-trips the traffic variant and candidate version of a progressive rollout', () => {
    const decoded = decodeRequest(toFields(encodeRequest({ ...pixelsRequest, variant: 'canary-mirror', candidateVersion: '7' })));
    expect(decoded).toMatchObject({ variant: 'canary-mirror', candidateVersion: '7' });
    expect(decodeRequest(toFields(encodeRequest(pixelsRequest)))).not.toHaveProperty('variant');
  });

  it('rejects an unknown variant, and a variant without a candidate version', () => {
    const fields = toFields(encodeRequest({ ...pixelsRequest, variant: 'shadow', candidateVersion: '2' }));
    fields.set('var', Buffer.from('everything'));
    expect(() => decodeRequest(fields)).toThrow(MessageDecodeError);
    fields.set('var', Buffer.from('shadow'));
    fields.set('cv', Buffer.from(''));
    expect(() => decodeRequest(fields)).toThrow(MessageDecodeError);
  });

  it('rejects pixels that do not match their geometry', () => {
    const fields = toFields(encodeRequest(pixelsRequest));
    fields.set('geo', Buffer.from('28,28,1'));
    expect(() => decodeRequest(fields)).toThrow(MessageDecodeError);
  });

  it('rejects a channel count other than 1 or 3', () => {
    const fields = toFields(encodeRequest({ ...base, input: { kind: 'pixels', pixels: new Uint8Array(4), height: 1, width: 1, channels: 4 } }));
    expect(() => decodeRequest(fields)).toThrow(/geometry/);
  });

  it('carries the optional top-k, and leaves it out when the request wants the default', () => {
    expect(decodeRequest(toFields(encodeRequest({ ...pixelsRequest, k: 10 }))).k).toBe(10);
    expect(decodeRequest(toFields(encodeRequest(pixelsRequest)))).not.toHaveProperty('k');
  });

  it('marks a request sampled for the payload log, and leaves the mark out otherwise', () => {
    expect(decodeRequest(toFields(encodeRequest({ ...pixelsRequest, log: true }))).log).toBe(true);
    expect(encodeRequest(pixelsRequest)).not.toContain('log');
    expect(decodeRequest(toFields(encodeRequest({ ...pixelsRequest, log: false })))).not.toHaveProperty('log');
  });

  it('rejects a top-k below 1', () => {
    const fields = toFields(encodeRequest(pixelsRequest));
    fields.set('k', Buffer.from('0'));
    expect(() => decodeRequest(fields)).toThrow(MessageDecodeError);
  });

  it('rejects an entry without a deadline', () => {
    const fields = toFields(encodeRequest(pixelsRequest));
    fields.delete('deadline');
    expect(() => decodeRequest(fields)).toThrow(/deadline/);
  });
});

describe('reply messages', () => {
  it('round-trips the success and failure replies of one batch in one entry', () => {
    const ok = { id: 'c1', ok: true as const, model: { name: 'm', version: '2' }, predictions: [{ label: 'Bag', probability: 0.9 }] };
    const failed = { id: 'c2', ok: false as const, code: 'IMAGE_CORRUPT' as const, message: 'no' };
    expect(decodeReplies(toFields(encodeReplies([ok, failed])))).toEqual([ok, failed]);
  });

  it('rejects a malformed reply', () => {
    expect(() => decodeReplies(toFields(['r', '[{"id":"x","ok":true}]']))).toThrow(MessageDecodeError);
  });
});
