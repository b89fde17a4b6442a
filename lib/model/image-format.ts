/** Formats the API accepts (the DESIGN's list); anything else sharp could read (SVG, AVIF, PDF...) is refused. */
export const SUPPORTED_IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'gif', 'tiff'] as const;
export type ImageFormat = (typeof SUPPORTED_IMAGE_FORMATS)[number];

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/**
 * The format of an upload from its magic number, or null. Checked before any
 * decoding so a format we do not accept never reaches libvips, and so the
 * upload is opened by sharp exactly once. Written out because the signatures
 * are five fixed byte strings; the maintained sniffing library (file-type) is
 * ESM-only and would detect hundreds of formats we refuse anyway.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff'; // BigTIFF
  return null;
}
