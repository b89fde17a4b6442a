// Container healthcheck for the Node.js processes: GET a /healthz URL, exit 0 on a 2xx answer.
//   node healthcheck.mjs [URL]
// Without URL: http://127.0.0.1:$PORT/healthz (the API), else $METRICS_PORT (the workers).
const port = process.env.PORT ?? process.env.METRICS_PORT ?? '8000';
const url = process.argv[2] ?? process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${port}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) console.error(`${url}: HTTP ${res.status} ${await res.text()}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
