import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface LoadResult {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Responses with a status other than 2xx, and socket errors/timeouts. */
  non2xx: number;
  socketErrors: number;
}

const BOUNDARY = 'lifecycle-bench-boundary';

/** A multipart body with `image` in field img_file, as curl -F sends it. */
export function multipartBody(image: Buffer, filename = 'image.png'): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="img_file"; filename="${filename}"\r\nContent-Type: image/png\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** A Lua string literal holding arbitrary bytes (decimal escapes: Lua 5.1 / LuaJIT, which wrk embeds). */
function luaBytes(bytes: Buffer): string {
  let out = '"';
  // Always three digits: "\1" followed by the character "2" would otherwise read as "\12".
  for (const b of bytes) out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`;
  return `${out}"`;
}

/** One prepared request: its body and its own headers. */
export interface PreparedRequest {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * The wrk script: each request posts the next of `requests` (round robin) with its headers, and
 * `done` prints one JSON line with wrk's own latency percentiles and counts.
 */
function script(requests: PreparedRequest[]): string {
  const headers = (h: Record<string, string>) => `{ ${Object.entries(h).map(([k, v]) => `[${luaBytes(Buffer.from(k))}] = ${luaBytes(Buffer.from(v))}`).join(', ')} }`;
  return `
local bodies = { ${requests.map((r) => luaBytes(r.body)).join(',\n')} }
local headers = { ${requests.map((r) => headers(r.headers)).join(',\n')} }
local i = 0
wrk.method = "POST"
request = function()
  i = (i % #bodies) + 1
  local h = {}
  for k, v in pairs(headers[i]) do h[k] = v end
  return wrk.format(nil, nil, h, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"p50":%f,"p90":%f,"p99":%f,"max":%f,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
`;
}

/**
 * Runs wrk (a native load generator: on a 2-core machine a Node one would take
 * CPU from the server it measures) against `url` with `connections` open
 * connections for `seconds`, posting `images` as img_file.
 */
export async function runWrk(url: string, images: Buffer[], opts: WrkOptions): Promise<LoadResult> {
  const headers = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` };
  return runWrkRequests(url, images.map((img, i) => ({ body: multipartBody(img, `${i}.png`), headers })), opts);
}

export interface WrkOptions {
  connections: number;
  seconds: number;
  threads?: number;
  timeoutSeconds?: number;
}

/** runWrk with prepared bodies and headers (the Open Inference Protocol's, for one). */
export async function runWrkRequests(url: string, requests: PreparedRequest[], opts: WrkOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-wrk-'));
  try {
    const file = join(dir, 'post.lua');
    writeFileSync(file, script(requests));
    const threads = Math.min(opts.threads ?? 1, opts.connections);
    const { stdout, stderr } = await promisify(execFile)(
      'wrk',
      ['-t', String(threads), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--timeout', `${opts.timeoutSeconds ?? 15}s`, '-s', file, url],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (!line) throw new Error(`wrk printed no result:\n${stdout}\n${stderr}`);
    const r = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
    const seconds = r.duration_us! / 1e6;
    return {
      connections: opts.connections,
      seconds,
      requests: r.requests!,
      rps: r.requests! / seconds,
      p50: r.p50! / 1000,
      p90: r.p90! / 1000,
      p99: r.p99! / 1000,
      max: r.max! / 1000,
      non2xx: r.status!,
      socketErrors: r.connect! + r.read! + r.write! + r.timeout!,
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed: apt-get install wrk (the benchmark needs a native load generator)');
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
