import sharp from 'sharp';

/** A small synthetic garment-like image: a bright shape on black, `seed` varies the shape. */
export async function testImage(seed = 0, format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' = 'png', size = { width: 56, height: 40 }): Promise<Buffer> {
  const w = 10 + ((seed * 7) % 20);
  const svgless = await sharp({ create: { width: w, height: w, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png().toBuffer();
  return sharp({ create: { width: size.width, height: size.height, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([{ input: svgless, left: seed % 10, top: seed % 8 }])
    .toFormat(format)
    .toBuffer();
}

/** A multipart/form-data body with one file field, serialised by the platform's own FormData. */
export async function multipartBody(
  file: Buffer,
  opts: { field?: string; filename?: string; contentType?: string } = {},
): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  form.append(opts.field ?? 'img_file', new Blob([file], { type: opts.contentType ?? 'image/png' }), opts.filename ?? 'image.png');
  const response = new Response(form);
  return {
    payload: Buffer.from(await response.arrayBuffer()),
    headers: { 'content-type': response.headers.get('content-type') ?? '' },
  };
}
