import sharp from 'sharp';

export interface Series {
  name: string;
  color: string;
  /** Points: x = throughput (requests/s), y = latency (ms), label = the concurrency. */
  points: Array<{ x: number; y: number; label: string }>;
  dashed?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Round axis maximum: 1, 2 or 5 times a power of ten. */
function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(v, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v) ?? v;
}

/**
 * One panel of the benchmark chart as SVG: latency percentiles against
 * throughput, one line per series, points labelled with their concurrency.
 * Drawn by hand because it is one small line chart and sharp (already a
 * dependency) renders SVG to PNG; a charting library would add a headless
 * rendering stack for nothing else.
 */
function panel(title: string, series: Series[], x0: number, width: number, height: number): string {
  const m = { left: 60, right: 20, top: 40, bottom: 50 };
  const all = series.flatMap((s) => s.points);
  const xMax = niceMax(Math.max(...all.map((p) => p.x)) * 1.05);
  const yMax = niceMax(Math.max(...all.map((p) => p.y)) * 1.05);
  const X = (v: number) => x0 + m.left + (v / xMax) * (width - m.left - m.right);
  const Y = (v: number) => m.top + (1 - v / yMax) * (height - m.top - m.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const out: string[] = [`<text x="${x0 + width / 2}" y="22" font-size="15" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  for (const t of ticks) {
    out.push(`<line x1="${X(0)}" x2="${X(xMax)}" y1="${Y(t * yMax)}" y2="${Y(t * yMax)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${X(0) - 6}" y="${Y(t * yMax) + 4}" font-size="11" text-anchor="end">${+(t * yMax).toPrecision(3)}</text>`);
    out.push(`<text x="${X(t * xMax)}" y="${Y(0) + 16}" font-size="11" text-anchor="middle">${+(t * xMax).toPrecision(3)}</text>`);
  }
  out.push(`<line x1="${X(0)}" x2="${X(xMax)}" y1="${Y(0)}" y2="${Y(0)}" stroke="#333"/><line x1="${X(0)}" x2="${X(0)}" y1="${Y(0)}" y2="${Y(yMax)}" stroke="#333"/>`);
  out.push(`<text x="${X(xMax / 2)}" y="${height - 12}" font-size="12" text-anchor="middle">throughput (requests/s)</text>`);
  out.push(`<text transform="translate(${x0 + 16} ${Y(yMax / 2)}) rotate(-90)" font-size="12" text-anchor="middle">latency (ms)</text>`);
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of s.points) {
      out.push(`<circle cx="${X(p.x)}" cy="${Y(p.y)}" r="3.5" fill="${s.color}"/>`);
      out.push(`<text x="${X(p.x) + 5}" y="${Y(p.y) - 6}" font-size="10" fill="${s.color}">${esc(p.label)}</text>`);
    }
    out.push(`<rect x="${X(0) + 10}" y="${m.top + 4 + i * 16}" width="14" height="3" fill="${s.color}"/>`);
    out.push(`<text x="${X(0) + 30}" y="${m.top + 9 + i * 16}" font-size="11">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Writes a PNG with one panel per entry of `panels`, side by side. */
export async function writeChart(file: string, panels: Array<{ title: string; series: Series[] }>, subtitle: string): Promise<void> {
  const w = 560;
  const h = 420;
  const body = panels.map((p, i) => panel(p.title, p.series, i * w, w, h)).join('\n');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w * panels.length}" height="${h + 24}" font-family="DejaVu Sans, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>${body}
<text x="10" y="${h + 16}" font-size="11" fill="#555">${esc(subtitle)}</text></svg>`;
  await sharp(Buffer.from(svg)).png().toFile(file);
}
