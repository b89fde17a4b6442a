import { testMetadata } from '../../tests/support/metadata';
import { pixelsToTensor } from './tensor';

describe('pixelsToTensor', () => {
  it('normalises grayscale pixels as (p*scale - mean) / std', () => {
    const { input, normalization } = testMetadata();
    const pixels = new Uint8Array(784).fill(255);
    const t = pixelsToTensor(pixels, input, normalization);
    expect(t[0]).toBeCloseTo((1 - 0.286) / 0.353, 5);
  });

  it('turns interleaved RGB (HWC) into planes (CHW) with per-channel statistics', () => {
    const input = { ...testMetadata().input, channels: 3 as const, colorspace: 'rgb' as const, height: 1, width: 2 };
    const t = pixelsToTensor([1, 2, 3, 4, 5, 6], input, { scale: 1, mean: [0, 10, 100], std: [1, 1, 2] });
    expect(Array.from(t)).toEqual([1, 4, 2 - 10, 5 - 10, (3 - 100) / 2, (6 - 100) / 2]);
  });

  it('rejects a pixel count that does not match the input', () => {
    const { input, normalization } = testMetadata();
    expect(() => pixelsToTensor([1, 2], input, normalization)).toThrow(RangeError);
  });
});
