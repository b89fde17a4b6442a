import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelMetadata } from '../../lib/model/metadata';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { freePort } from '../../lib/process/free-port';
import type { RunningPayloadLogger } from '../../workers/payload-logger';
import { startProcess } from '../support/child-process';
import { testImage } from '../support/images';
import { duckQuery, scrapeValue, startTestLogger } from '../support/payload-log';
import { useServingStack, type ServingStack } from '../support/serving-stack';

jest.setTimeout(120_000);

const TOKEN = 'integration-labeller-token-42';
const MODEL = 'test-classifier';

describe('payload log: API marks, worker -> bounded Redis stream -> logger -> Parquet (real Redis, onnxruntime, DuckDB)', () => {
  const fixture = useServingStack('payload-log');
  let stack: ServingStack;
  let dir: string;
  let logger: RunningPayloadLogger | null = null;
  beforeEach(() => {
    stack = fixture.stack;
    dir = mkdtempSync(join(tmpdir(), 'payload-log-'));
  });
  afterEach(async () => {
    await logger?.close();
    logger = null;
    rmSync(dir, { recursive: true, force: true });
  });

  const keys = () => payloadLogKeys(stack.prefix);
  const scrape = async (url: string) => (await fetch(url)).text();

  it('writes every sampled request (100%) to Parquet with its version, pixels and top-k; feedback lands beside it', async () => {
    await stack.startApi({ PAYLOAD_LOG_SAMPLE: '1', FEEDBACK_TOKENS: `ci:labeller:${TOKEN}` });
    await (await stack.startWorker()).ready();
    logger = await startTestLogger(stack.redisUrl, stack.prefix, dir);
    const answers = new Map<string, string>();
    for (let i = 0; i < 10; i++) {
      const res = await stack.predict(await testImage(i), { 'x-request-id': `single-${i}` });
      expect(res.status).toBe(200);
      answers.set(`single-${i}`, (res.body.predictions as Array<{ label: string }>)[0]!.label);
    }
    // A batch: its images are logged as <request_id>#<index>.
    const form = new FormData();
    for (let i = 0; i < 3; i++) form.append('img_file', new Blob([new Uint8Array(await testImage(20 + i))], { type: 'image/png' }), `${i}.png`);
    const batch = await fetch(`${stack.baseUrl}/predict/batch`, { method: 'POST', body: form, headers: { 'x-request-id': 'batch-1' } });
    const batchBody = (await batch.json()) as { results: Array<{ predictions: Array<{ label: string }> }> };
    batchBody.results.forEach((r, i) => answers.set(`batch-1#${i}`, r.predictions[0]!.label));

    const fb = await fetch(`${stack.baseUrl}/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ request_id: 'single-3', label: 'Bag' }),
    });
    expect(fb.status).toBe(202);

    const metricsUrl = `http://127.0.0.1:${logger.metricsPort}/metrics`;
    await stack.waitFor(async () => scrapeValue(await scrape(metricsUrl), 'lifecycle_payload_logger_written_total', { table: 'payloads' }) >= 13, 15_000, 'the logger to write 13 payloads');
    await stack.waitFor(async () => scrapeValue(await scrape(metricsUrl), 'lifecycle_payload_logger_written_total', { table: 'feedback' }) >= 1, 15_000, 'the feedback row');

    const { height, width, channels } = readModelMetadata(fixture.model.bytes).input;
    const today = new Date().toISOString().slice(0, 10);
    expect(readdirSync(join(dir, `model=${MODEL}`, 'version=1', `date=${today}`)).every((f) => f.endsWith('.parquet'))).toBe(true);
    const rows = await duckQuery(
      `SELECT DISTINCT request_id, version::VARCHAR AS version, octet_length(pixels)::INTEGER AS n, height, width, channels, top_labels[1] AS top1, len(top_probabilities)::INTEGER AS k
       FROM read_parquet('${dir}/model=*/version=*/date=*/*.parquet', hive_partitioning = true)`,
    );
    const byId = new Map(rows.map((r) => [r.request_id as string, r]));
    expect(byId.size).toBe(answers.size);
    for (const [id, top1] of answers) {
      expect(byId.get(id)).toEqual({ request_id: id, version: '1', n: height * width * channels, height, width, channels, top1, k: 5 });
    }
    const feedback = await duckQuery(`SELECT request_id, label, predicted, correct, labelled_by FROM read_parquet('${dir}/feedback/model=*/version=*/date=*/*.parquet')`);
    expect(feedback).toEqual([{ request_id: 'single-3', label: 'Bag', predicted: answers.get('single-3'), correct: answers.get('single-3') === 'Bag', labelled_by: 'ci' }]);
    // Written entries are acknowledged and deleted: the stream's length is the backlog.
    await stack.waitFor(async () => (await stack.redis.xlen(keys().payloads(MODEL))) === 0, 5000, 'an empty payload stream');
  });

  it('serves on when the logger is killed under load: the stream stays bounded, drops are counted, accepted entries all reach Parquet', async () => {
    const maxLength = 15;
    // The API marks every request; the worker that answers one writes it to the bounded stream.
    await stack.startApi({ PAYLOAD_LOG_SAMPLE: '1' });
    const worker = await stack.startWorker({ PAYLOAD_LOG_MAX_LENGTH: String(maxLength) });
    await worker.ready();
    const child = startProcess('workers/payload-logger.ts', {
      REDIS_URL: stack.redisUrl,
      REDIS_PREFIX: stack.prefix,
      PAYLOAD_LOG_DIR: dir,
      PAYLOAD_LOGGER_FLUSH_MS: '200',
      PAYLOAD_LOGGER_CLAIM_IDLE_MS: '1000',
      PAYLOAD_LOGGER_ID: 'killed-logger',
      METRICS_PORT: '0',
    });
    await child.waitForOutput('payload logger started');
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => testImage(i)));
    const statuses: number[] = [];
    let maxSeen = 0;
    const client = async (c: number) => {
      for (let i = 0; i < 30; i++) {
        statuses.push((await stack.predict(images[(c + i) % images.length]!, { 'x-request-id': `load-${c}-${i}` })).status);
        maxSeen = Math.max(maxSeen, await stack.redis.xlen(keys().payloads(MODEL)));
        if (c === 0 && i === 5) child.child.kill('SIGKILL'); // mid-load, with whatever it had read but not written
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, c) => client(c)));
    await child.exited;

    expect(statuses).toEqual(new Array(180).fill(200));
    expect(maxSeen).toBeLessThanOrEqual(maxLength);
    // Every sampled request is either logged or counted as dropped (the last writes finish just after their replies).
    const counts = async () => {
      const text = await worker.registry.metrics();
      return { logged: scrapeValue(text, 'lifecycle_payload_log_entries_total', { model: MODEL }), dropped: scrapeValue(text, 'lifecycle_payload_log_dropped_total', { model: MODEL }) };
    };
    const { logged, dropped } = await stack.waitFor(async () => {
      const c = await counts();
      return c.logged + c.dropped === 180 ? c : null;
    }, 5000, 'every sampled request to be logged or counted as dropped');
    expect(dropped).toBeGreaterThan(0);
    expect(scrapeValue(await worker.registry.metrics(), 'lifecycle_payload_log_errors_total')).toBe(0);
    expect(scrapeValue(await scrape(`${stack.baseUrl}/metrics`), 'lifecycle_payload_log_errors_total')).toBe(0);

    // A new logger (same consumer name: it re-reads what the killed one read but never wrote) drains the rest.
    logger = await startTestLogger(stack.redisUrl, stack.prefix, dir, { PAYLOAD_LOGGER_ID: 'killed-logger' });
    await stack.waitFor(async () => (await stack.redis.xlen(keys().payloads(MODEL))) === 0, 15_000, 'the backlog to drain');
    const [{ distinct }] = (await duckQuery(`SELECT count(DISTINCT request_id)::INTEGER AS distinct FROM read_parquet('${dir}/model=*/*/*/*.parquet')`)) as [{ distinct: number }];
    expect(distinct).toBe(logged);
  });

  it('is live without Redis but ready only while Redis answers (its /readyz can fail)', async () => {
    logger = await startTestLogger(`redis://127.0.0.1:${await freePort()}`, stack.prefix, dir);
    const probe = (path: string) => fetch(`http://127.0.0.1:${logger!.metricsPort}${path}`);
    expect((await probe('/healthz')).status).toBe(200);
    const unready = await probe('/readyz');
    expect(unready.status).toBe(503);
    expect(await unready.json()).toMatchObject({ ok: false });
    await logger.close();
    logger = await startTestLogger(stack.redisUrl, stack.prefix, dir);
    await stack.waitFor(async () => (await probe('/readyz')).status === 200, 5000, 'the logger to be ready on the real Redis');
  });

  it('deletes date partitions past PAYLOAD_LOG_RETENTION_DAYS and keeps recent ones', async () => {
    const old = join(dir, `model=${MODEL}`, 'version=1', 'date=2020-01-01');
    const oldFeedback = join(dir, 'feedback', `model=${MODEL}`, 'version=1', 'date=2020-01-01');
    const recent = join(dir, `model=${MODEL}`, 'version=1', `date=${new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)}`);
    for (const d of [old, oldFeedback, recent]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'part.parquet'), 'x');
    }
    logger = await startTestLogger(stack.redisUrl, stack.prefix, dir, { PAYLOAD_LOG_RETENTION_DAYS: '7' }, { retentionIntervalMs: 100 });
    await stack.waitFor(() => readdirSync(join(dir, `model=${MODEL}`, 'version=1')).length === 1, 5000, 'the old partition to go');
    expect(readdirSync(join(dir, `model=${MODEL}`, 'version=1'))).toEqual([recent.split('/').pop()]);
    expect(readdirSync(join(dir, 'feedback', `model=${MODEL}`, 'version=1'))).toEqual([]);
    const metrics = await scrape(`http://127.0.0.1:${logger.metricsPort}/metrics`);
    expect(scrapeValue(metrics, 'lifecycle_payload_logger_partitions_deleted_total')).toBe(2);
  });
});
