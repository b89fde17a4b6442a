/**
 * `npm run bench`: the serving benchmark and load test. Sends the held-out
 * Fashion-MNIST test split (the last 1,000 images of each class) through
 * `POST /predict` of a running stack (`make up`) with N concurrent clients, and
 * reports accuracy through the API, latency percentiles and throughput.
 *
 *   npm run bench -- [--url http://127.0.0.1:8000] [--concurrency 16] [--limit 10000] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LABELS, defaultSourceDir, encodePng, loadClass } from '../lib/dataset/fashion-mnist';

interface Sample {
  label: string;
  png: Buffer;
}

interface Outcome {
  status: number;
  ms: number;
  correct: boolean;
  version?: string;
}

async function heldOutSamples(limit: number): Promise<Sample[]> {
  const source = defaultSourceDir();
  const perClass = Math.ceil(limit / LABELS.length);
  const samples: Sample[] = [];
  for (let c = 0; c < LABELS.length; c++) {
    for (const image of loadClass(source, c).test.slice(0, perClass)) samples.push({ label: LABELS[c]!, png: await encodePng(image.pixels) });
  }
  return samples.slice(0, limit);
}

async function predict(url: string, sample: Sample): Promise<Outcome> {
  const form = new FormData();
  form.append('img_file', new Blob([new Uint8Array(sample.png)], { type: 'image/png' }), 'x.png');
  const t0 = performance.now();
  const res = await fetch(`${url}/predict`, { method: 'POST', body: form });
  const body = (await res.json()) as { model?: { version: string }; predictions?: { label: string }[] };
  const ms = performance.now() - t0;
  return { status: res.status, ms, correct: res.status === 200 && body.predictions?.[0]?.label === sample.label, version: body.model?.version };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.API_URL ?? 'http://127.0.0.1:8000' },
      concurrency: { type: 'string', default: '16' },
      limit: { type: 'string', default: '10000' },
      json: { type: 'string' },
    },
  });
  const concurrency = Number(values.concurrency);
  const limit = Number(values.limit);
  if (!(concurrency > 0) || !(limit > 0)) throw new Error('--concurrency and --limit must be positive numbers');
  const ready = await fetch(`${values.url}/readyz`).catch(() => null);
  if (!ready?.ok) throw new Error(`${values.url}/readyz is not ready: start the stack with \`make up\``);

  const samples = await heldOutSamples(limit);
  console.log(`sending ${samples.length} held-out images to ${values.url}/predict with ${concurrency} concurrent clients`);
  const outcomes: Outcome[] = [];
  let next = 0;
  const t0 = performance.now();
  const progress = setInterval(() => console.log(`  ${outcomes.length}/${samples.length}`), 5000);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < samples.length) outcomes.push(await predict(values.url, samples[next++]!));
    }),
  );
  clearInterval(progress);
  const seconds = (performance.now() - t0) / 1000;

  const ok = outcomes.filter((o) => o.status === 200);
  const latencies = ok.map((o) => o.ms).sort((a, b) => a - b);
  const statuses = Object.fromEntries([...new Set(outcomes.map((o) => o.status))].map((s) => [s, outcomes.filter((o) => o.status === s).length]));
  const result = {
    requests: outcomes.length,
    concurrency,
    statuses,
    accuracy: ok.length ? outcomes.filter((o) => o.correct).length / ok.length : NaN,
    throughput_rps: outcomes.length / seconds,
    latency_ms: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN },
    model_versions: [...new Set(ok.map((o) => o.version))],
    seconds,
  };
  console.table({
    'requests': result.requests,
    'status counts': JSON.stringify(result.statuses),
    'accuracy (top-1, held-out split)': result.accuracy.toFixed(4),
    'throughput (req/s)': result.throughput_rps.toFixed(1),
    'latency p50 (ms)': result.latency_ms.p50.toFixed(1),
    'latency p95 (ms)': result.latency_ms.p95.toFixed(1),
    'latency p99 (ms)': result.latency_ms.p99.toFixed(1),
    'model version(s)': result.model_versions.join(','),
  });
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
