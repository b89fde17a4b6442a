import { BinaryCursor, decodeBytesElements, encodeBody, encodeBytesElements, encodeFp32, splitBody, TensorDataError } from './binary-data';

describe('the binary tensor data extension', () => {
  it('splits a body into its JSON (Inference-Header-Content-Length bytes) and the binary data after it', () => {
    const json = Buffer.from('{"inputs":[]}');
    const { json: parsed, binary } = splitBody(Buffer.concat([json, Buffer.from([1, 2, 3])]), String(json.length));
    expect(parsed).toEqual({ inputs: [] });
    expect([...binary]).toEqual([1, 2, 3]);
  });

  it('reads the whole body as JSON without the header', () => {
    const { json, binary } = splitBody(Buffer.from('{"a":1}'), undefined);
    expect(json).toEqual({ a: 1 });
    expect(binary.length).toBe(0);
  });

  it.each([['-1'], ['abc'], ['999'], ['1.5']])('rejects Inference-Header-Content-Length %s', (header) => {
    expect(() => splitBody(Buffer.from('{"a":1}'), header)).toThrow(/Inference-Header-Content-Length is/);
  });

  it('rejects a JSON part that is not JSON, naming the header', () => {
    expect(() => splitBody(Buffer.from('{"a":1}xyz'), '9')).toThrow(/first 9 bytes/);
  });

  it('encodes BYTES elements with 4-byte little-endian lengths and decodes them back', () => {
    const raw = encodeBytesElements([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('xyz')]);
    expect([...raw]).toEqual([2, 0, 0, 0, 97, 98, 0, 0, 0, 0, 3, 0, 0, 0, 120, 121, 122]);
    expect(decodeBytesElements(raw, 'image').map((b) => b.toString())).toEqual(['ab', '', 'xyz']);
  });

  it('rejects a BYTES element that claims more bytes than there are, or a cut length', () => {
    expect(() => decodeBytesElements(Buffer.from([5, 0, 0, 0, 1]), 'image')).toThrow(TensorDataError);
    expect(() => decodeBytesElements(Buffer.from([1, 0, 0, 0, 1, 2]), 'image')).toThrow(/lacks its 4-byte length/);
  });

  it('encodes FP32 little-endian', () => {
    const raw = encodeFp32([1, 0.5]);
    expect(raw.readFloatLE(0)).toBe(1);
    expect(raw.readFloatLE(4)).toBe(0.5);
    expect([...raw.subarray(0, 4)]).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('hands out tensors in order and refuses sizes past the end or bytes left over', () => {
    const cursor = new BinaryCursor(Buffer.from([1, 2, 3, 4]));
    expect([...cursor.take(3, 'a')]).toEqual([1, 2, 3]);
    expect(() => cursor.end()).toThrow(/1 bytes of binary data/);
    expect(() => cursor.take(2, 'b')).toThrow(/runs past/);
  });

  it('builds a response body whose header length is the JSON part', () => {
    const { body, headerLength } = encodeBody({ id: 'é' }, [Buffer.from([9, 9])]);
    expect(JSON.parse(body.subarray(0, headerLength).toString())).toEqual({ id: 'é' });
    expect([...body.subarray(headerLength)]).toEqual([9, 9]);
  });
});
