import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** A class of the synthetic shapes dataset: a triangle pointing up or left, or a square, in one colour. */
export interface ShapeClass {
  label: string;
  shape: 'up' | 'left' | 'square';
  color: [number, number, number];
}

/**
 * Grayscale classes told apart by shape only. `left` is `up` transposed, so a model reading
 * the image transposed would confuse them.
 */
export const GRAY_CLASSES: ShapeClass[] = [
  { label: 'up', shape: 'up', color: [230, 230, 230] },
  { label: 'left', shape: 'left', color: [230, 230, 230] },
  { label: 'square', shape: 'square', color: [230, 230, 230] },
];

/**
 * RGB classes: red-up vs red-left differ by orientation only, red-up vs blue-up by colour only, so
 * a mix-up of channel order (RGB/BGR, HWC/CHW) or of rows and columns changes the predictions.
 */
export const RGB_CLASSES: ShapeClass[] = [
  { label: 'red-up', shape: 'up', color: [220, 40, 30] },
  { label: 'red-left', shape: 'left', color: [220, 40, 30] },
  { label: 'blue-up', shape: 'up', color: [30, 60, 220] },
];

export interface ShapesDatasetOptions {
  classes: ShapeClass[];
  channels: 1 | 3;
  size: number;
  perClassTrain: number;
  perClassTest: number;
  seed?: number;
  /** labels.json content; defaults to the class labels (pass other names to make an incompatible dataset). */
  labels?: string[];
}

/** mulberry32: a tiny seeded PRNG, so datasets are identical on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Interleaved (HWC) uint8 pixels of one image: a noisy dark background and the class's shape. */
export function drawShape(cls: ShapeClass, channels: 1 | 3, size: number, rand: () => number): Uint8Array {
  const px = new Uint8Array(size * size * channels);
  const bg = [0, 1, 2].map(() => Math.floor(rand() * 60));
  const s = Math.floor(size * (0.45 + rand() * 0.2));
  const x0 = Math.floor(rand() * (size - s));
  const y0 = Math.floor(rand() * (size - s));
  const inside = (x: number, y: number): boolean => {
    const u = x - x0;
    const v = y - y0;
    if (u < 0 || v < 0 || u >= s || v >= s) return false;
    if (cls.shape === 'square') return true;
    // 'up': apex at the top centre, widening downwards; 'left': the same, transposed.
    const [along, across] = cls.shape === 'up' ? [v, u] : [u, v];
    return Math.abs(across - (s - 1) / 2) <= along / 2 + 0.5;
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = inside(x, y);
      const noise = Math.floor(rand() * 20);
      const rgb = on ? cls.color.map((c) => Math.max(0, c - noise)) : bg.map((c) => c + noise);
      if (channels === 1) px[y * size + x] = Math.round(0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!);
      else for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = rgb[c]!;
    }
  }
  return px;
}

/** Writes a dataset in the Lifecycle format (labels.json, train/NN/*.png, test/NN/*.png) with sharp. */
export async function writeShapesDataset(dir: string, opts: ShapesDatasetOptions): Promise<string> {
  const rand = rng(opts.seed ?? 1);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'labels.json'), JSON.stringify(opts.labels ?? opts.classes.map((c) => c.label)));
  for (const [split, count] of [['train', opts.perClassTrain], ['test', opts.perClassTest]] as const) {
    for (const [index, cls] of opts.classes.entries()) {
      const folder = join(dir, split, String(index).padStart(2, '0'));
      await mkdir(folder, { recursive: true });
      for (let i = 0; i < count; i++) {
        const pixels = drawShape(cls, opts.channels, opts.size, rand);
        await sharp(Buffer.from(pixels), { raw: { width: opts.size, height: opts.size, channels: opts.channels } })
          .png()
          .toFile(join(folder, `${String(i).padStart(4, '0')}.png`));
      }
    }
  }
  return dir;
}
