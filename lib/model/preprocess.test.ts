import sharp from 'sharp';
import { testImage } from '../../tests/support/images';
import { testMetadata } from '../../tests/support/metadata';
import { preprocessImage, PreprocessError } from './preprocess';

const metadata = testMetadata();
const opts = { maxInputPixels: 1_000_000 };
const { mean, std, scale } = { mean: metadata.normalization.mean[0]!, std: metadata.normalization.std[0]!, scale: metadata.normalization.scale };
const black = (0 * scale - mean) / std;

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(PreprocessError);
  await expect(promise).rejects.toMatchObject({ code });
}

describe('preprocessImage', () => {
  it.each(['png', 'jpeg', 'webp', 'gif', 'tiff'] as const)('turns a %s upload into a normalised 1x28x28 tensor', async (format) => {
    const tensor = await preprocessImage(await testImage(3, format), metadata, opts);
    expect(tensor).toBeInstanceOf(Float32Array);
    expect(tensor).toHaveLength(28 * 28);
    expect(Math.min(...tensor)).toBeGreaterThanOrEqual(black - 1e-6);
    expect(Math.max(...tensor)).toBeLessThanOrEqual((1 - mean) / std + 1e-6);
  });

  it('maps a white pixel to (1 - mean) / std', async () => {
    const white = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const tensor = await preprocessImage(white, metadata, opts);
    expect(tensor[400]).toBeCloseTo((1 - mean) / std, 5);
  });

  it('letterboxes a wide image onto black instead of stretching it', async () => {
    const wide = await sharp({ create: { width: 280, height: 140, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const tensor = await preprocessImage(wide, metadata, opts);
    expect(tensor[0]).toBeCloseTo(black, 5); // top-left: padding
    expect(tensor[14 * 28 + 14]).toBeCloseTo((1 - mean) / std, 5); // centre: the image
  });

  it('flattens transparency onto black', async () => {
    const clear = await sharp({ create: { width: 28, height: 28, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0 } } }).png().toBuffer();
    const tensor = await preprocessImage(clear, metadata, opts);
    expect(tensor[400]).toBeCloseTo(black, 5);
  });

  it('produces three planes for an RGB model', async () => {
    const rgb = testMetadata({
      input: { ...metadata.input, channels: 3, colorspace: 'rgb' },
      normalization: { scale, mean: [0, 0, 0], std: [1, 1, 1] },
    });
    const red = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const tensor = await preprocessImage(red, rgb, opts);
    expect(tensor).toHaveLength(3 * 784);
    expect([tensor[0], tensor[784], tensor[2 * 784]]).toEqual([1, 0, 0]);
  });

  it('refuses bytes that are not an image (UNSUPPORTED_IMAGE)', async () => {
    await expectCode(preprocessImage(Buffer.from('definitely not an image'), metadata, opts), 'UNSUPPORTED_IMAGE');
  });

  it('refuses formats outside the supported list, such as SVG (UNSUPPORTED_IMAGE)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="28" height="28"/></svg>');
    await expectCode(preprocessImage(svg, metadata, opts), 'UNSUPPORTED_IMAGE');
  });

  it('refuses images with more pixels than allowed before decoding them (IMAGE_TOO_LARGE)', async () => {
    const big = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#000' } }).png().toBuffer();
    await expectCode(preprocessImage(big, metadata, opts), 'IMAGE_TOO_LARGE');
  });

  it('refuses a truncated file of a supported format (IMAGE_CORRUPT)', async () => {
    const png = await testImage(1, 'png', { width: 200, height: 200 });
    await expectCode(preprocessImage(png.subarray(0, Math.floor(png.length / 2)), metadata, opts), 'IMAGE_CORRUPT');
  });
});
