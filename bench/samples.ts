import sharp from 'sharp';
import { LABELS, defaultSourceDir, encodePng, loadClass } from '../lib/dataset/fashion-mnist';

export interface Sample {
  label: string;
  png: Buffer;
}

/** The held-out Fashion-MNIST test split (last 1,000 images of each class) as PNG uploads, classes interleaved. */
export async function heldOutSamples(limit: number): Promise<Sample[]> {
  const source = defaultSourceDir();
  const perClass = Math.ceil(limit / LABELS.length);
  const byClass: Sample[][] = [];
  for (let c = 0; c < LABELS.length; c++) {
    byClass.push(await Promise.all(loadClass(source, c).test.slice(0, perClass).map(async (image) => ({ label: LABELS[c]!, png: await encodePng(image.pixels) }))));
  }
  const samples: Sample[] = [];
  for (let i = 0; i < perClass; i++) for (const cls of byClass) if (cls[i]) samples.push(cls[i]!);
  return samples.slice(0, limit);
}

/** Random RGB images of the given size, as PNG uploads (inputs for a model with random weights). */
export async function randomRgbPngs(count: number, size: number): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const pixels = Buffer.alloc(size * size * 3);
      let x = i * 2654435761;
      for (let j = 0; j < pixels.length; j++) pixels[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      return sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
    }),
  );
}
