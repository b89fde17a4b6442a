/**
 * `npm run bench`: the serving benchmark, run against a stack started by `make up`.
 *
 *   npm run bench -- [--url http://127.0.0.1:8000] [--json FILE] [--chart FILE.png] [--seconds 10]
 *                    [--connections 1,4,16,64] [--accuracy 10000] [--heavy-workers 2] [--heavy-batch 16] [--shadow-cycles 2]
 *                    [--skip oip,others,shadow,variants,payload-log,transport,heavy,accuracy] [--strict]
 *
 * 1. The default model (Fashion-MNIST, decode-bound) through the running API with wrk (a native
 *    load generator) at each connection count, next to its in-process limit measured in this run;
 *    then one line (64 connections) for every other model the stack serves, through its own route.
 * 1b. Shadow 100% against none at 1 and 64 connections: a copy of the champion shadows every request
 *    (it runs after the reply) through a traffic plan, as in a progressive rollout's shadow step;
 *    rounds in ABBA order (none, shadow, shadow, none), twice (--shadow-cycles), each side the mean of its rounds.
 * 2. Where decoding runs and how libvips threads are set: the same load on extra API instances.
 * 2b. The payload log: the same load on extra API instances logging none, 10% and 100% of requests.
 * 2c. The transport: a fleet of its own on the stack's single Redis and on a Redis Cluster the bench starts
 *    (3 masters + 3 replicas), one model at 64 connections and two models (on two shards) at 32 each.
 * 3. A compute-bound CNN the benchmark makes (random weights, >= 100 MFLOP/image) served by a
 *    fleet of its own, with dynamic batching and with MAX_BATCH_SIZE=1, next to raw onnxruntime;
 *    where the CPU went during the batched load (onnxruntime threads, the rest, from /proc), and the
 *    same load with a core to spare (cores - 1 workers against raw with as many threads).
 * 4. Held-out accuracy through POST /predict.
 * 5. The Open Inference Protocol: POST /v2/models/{name}/infer (binary extension, as tritonclient sends it)
 *    at 64 connections, next to /predict's line (skip with --skip oip).
 * Prints tables and the goals, writes JSON (--json) and a PNG chart (latency against throughput).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { MlflowClient } from '../lib/mlflow/client';
import { configureSharp } from '../lib/model/sharp-config';
import { measureAccuracy, type AccuracyResult } from './accuracy';
import { writeChart, type Series } from './chart';
import { benchFashion, benchVariants, type FashionResult, type VariantResult } from './fashion';
import { benchHeavy, type HeavyResult } from './heavy';
import { oipInferRequests } from './oip';
import { heldOutSamples, randomRgbPngs } from './samples';
import { benchShadow, type ShadowResult } from './shadow';
import { benchTransport, type TransportResult } from './transport';
import { runWrk, runWrkRequests, type LoadResult } from './wrk';

interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

const log = (line: string) => console.log(line);
const ms = (v: number) => `${v.toFixed(2)} ms`;

function goals(fashion: FashionResult | null, heavy: HeavyResult | null, shadow: ShadowResult | null, payloadLog: VariantResult[] = []): Goal[] {
  const out: Goal[] = [];
  const [none1, shadow1] = [shadow?.none, shadow?.shadow].map((levels) => levels?.find((l) => l.connections === 1));
  if (none1 && shadow1) {
    out.push({ goal: 'Shadow 100%, 1 connection: p50 within 10% of none', measured: `${ms(shadow1.p50)} vs ${ms(none1.p50)} (${((100 * shadow1.p50) / none1.p50 - 100).toFixed(0)}%)`, met: shadow1.p50 <= none1.p50 * 1.1 });
  }
  const [none, tenth] = [payloadLog.find((v) => v.env.PAYLOAD_LOG_SAMPLE === '0'), payloadLog.find((v) => v.env.PAYLOAD_LOG_SAMPLE === '0.1')];
  if (none && tenth) {
    const ratio = tenth.load.rps / none.load.rps;
    out.push({ goal: 'Payload log at 10%, 64 connections: >= 95% of the throughput without it', measured: `${(100 * ratio).toFixed(0)}% (${tenth.load.rps.toFixed(0)} / ${none.load.rps.toFixed(0)})`, met: ratio >= 0.95 });
  }
  const one = fashion?.levels.find((l) => l.connections === 1);
  if (one) {
    out.push({ goal: 'Fashion, 1 connection: p50 <= 3 ms', measured: ms(one.p50), met: one.p50 <= 3 });
    out.push({ goal: 'Fashion, 1 connection: p99 <= 10 ms', measured: ms(one.p99), met: one.p99 <= 10 });
  }
  const many = fashion?.levels.find((l) => l.connections === 64);
  if (fashion && many) {
    out.push({ goal: 'Fashion, 64 connections: >= 75% of the in-process limit', measured: `${(100 * (fashion.ratioAt64 ?? 0)).toFixed(0)}% (${many.rps.toFixed(0)} / ${fashion.inProcess.rps.toFixed(0)})`, met: (fashion.ratioAt64 ?? 0) >= 0.75 });
    out.push({ goal: 'Fashion, 64 connections: p99 <= 60 ms', measured: ms(many.p99), met: many.p99 <= 60 });
    out.push({ goal: 'Fashion, 64 connections: zero errors', measured: String(many.non2xx + many.socketErrors), met: many.non2xx + many.socketErrors === 0 });
  }
  if (heavy) {
    out.push({ goal: 'Heavy CNN, 64 connections: >= 80% of raw onnxruntime at its best batch size', measured: `${(100 * heavy.ratioToRaw).toFixed(0)}% (${heavy.batched.rps.toFixed(0)} / ${heavy.bestRaw.imagesPerSecond.toFixed(0)} at batch ${heavy.bestRaw.batchSize}); ceiling on this machine at the measured CPU outside onnxruntime: ${(100 * heavy.cpu.ceilingRatio).toFixed(0)}%`, met: heavy.ratioToRaw >= 0.8 });
    out.push({ goal: 'Heavy CNN: >= 2x the same service with MAX_BATCH_SIZE=1', measured: `${heavy.batchingGain.toFixed(1)}x (${heavy.batched.rps.toFixed(0)} / ${heavy.unbatched.rps.toFixed(0)})`, met: heavy.batchingGain >= 2 });
  }
  return out;
}

const row = (l: LoadResult) => ({ connections: l.connections, 'req/s': +l.rps.toFixed(1), 'p50 ms': +l.p50.toFixed(2), 'p90 ms': +l.p90.toFixed(2), 'p99 ms': +l.p99.toFixed(2), 'max ms': +l.max.toFixed(1), errors: l.non2xx + l.socketErrors });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.API_URL ?? 'http://127.0.0.1:8000' },
      json: { type: 'string' },
      chart: { type: 'string' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '1,4,16,64' },
      accuracy: { type: 'string', default: '10000' },
      'heavy-workers': { type: 'string', default: process.env.INFERENCE_WORKERS ?? '2' },
      // 64 connections over 2 workers: batches of 16 keep two batches in hand per worker (one running, one
      // prepared), where 64 let one worker take every request while the other idled (65% of raw against 72-73%).
      'heavy-batch': { type: 'string', default: '16' },
      'shadow-cycles': { type: 'string', default: '2' },
      skip: { type: 'string', default: '' },
      strict: { type: 'boolean', default: false },
    },
  });
  const skip = new Set(values.skip.split(',').filter(Boolean));
  const seconds = Number(values.seconds);
  const connections = values.connections.split(',').map(Number);
  if (!(seconds > 0) || connections.some((c) => !(c > 0))) throw new Error('--seconds and --connections must be positive numbers');
  const trackingUri = process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const modelName = process.env.MODEL_NAME ?? 'fashion-mnist-classifier';
  const mlflow = new MlflowClient({ trackingUri });
  configureSharp(Number(process.env.SHARP_CONCURRENCY ?? 1));
  const ready = await fetch(`${values.url}/readyz`).catch(() => null);
  if (!ready?.ok) throw new Error(`${values.url}/readyz is not ready: start the stack with \`make up\``);

  log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const samples = await heldOutSamples(Math.max(1000, Number(values.accuracy)));
  const workDir = mkdtempSync(join(tmpdir(), 'lifecycle-bench-'));
  let fashion: FashionResult | null = null;
  let variants: VariantResult[] = [];
  let payloadLog: VariantResult[] = [];
  let heavy: HeavyResult | null = null;
  let accuracy: AccuracyResult | null = null;
  let shadow: ShadowResult | null = null;
  const others: Array<{ model: string; version: string; load: LoadResult }> = [];
  let oip: LoadResult | null = null;
  let transport: TransportResult | null = null;
  try {
    log(`\n== ${modelName} through ${values.url}/predict (wrk, ${seconds} s per level)`);
    fashion = await benchFashion({ url: `${values.url}/predict`, mlflow, modelName, samples, connections, seconds, log });
    if (!skip.has('oip')) {
      // The same images through the Open Inference Protocol, next to /predict's 64-connection line.
      const url = `${values.url}/v2/models/${encodeURIComponent(modelName)}/infer`;
      const requests = oipInferRequests(samples.slice(0, 200).map((s) => s.png));
      await runWrkRequests(url, requests, { connections: 16, seconds: 2, threads: 2 }); // warm-up
      oip = await runWrkRequests(url, requests, { connections: 64, seconds, threads: 2 });
      log(`  /v2/models/${modelName}/infer, 64 connections: ${oip.rps.toFixed(0)} req/s, p50 ${oip.p50.toFixed(2)} ms, p99 ${oip.p99.toFixed(2)} ms, errors ${oip.non2xx + oip.socketErrors}`);
    }
    if (!skip.has('others')) {
      // Every other model the stack serves: one line each, through its own route (the routing costs the default model nothing).
      const listed = (await (await fetch(`${values.url}/models`)).json()) as { models: Array<{ name: string; version: string; default: boolean; input: { height: number } }> };
      for (const m of listed.models.filter((x) => !x.default)) {
        const images = await randomRgbPngs(16, m.input.height);
        const url = `${values.url}/models/${encodeURIComponent(m.name)}/predict`;
        await runWrk(url, images, { connections: 16, seconds: 2, threads: 2 });
        others.push({ model: m.name, version: m.version, load: await runWrk(url, images, { connections: 64, seconds, threads: 2 }) });
        log(`  ${m.name} v${m.version}: ${others.at(-1)!.load.rps.toFixed(0)} req/s at 64 connections, p99 ${others.at(-1)!.load.p99.toFixed(1)} ms`);
      }
    }
    if (!skip.has('shadow')) {
      log(`\n== shadow 100% against none (a copy of the champion as the candidate, ${seconds} s per level)`);
      const prefix = process.env.REDIS_PREFIX ?? 'lc:';
      shadow = await benchShadow({ url: `${values.url}/predict`, mlflow, redisUrl, redisPrefix: prefix, modelName, trackingUri, bodies: samples.slice(0, 200).map((s) => s.png), connections: [1, 64], seconds, cycles: Number(values['shadow-cycles']), log });
    }
    if (!skip.has('variants')) {
      log('\n== decode placement and libvips threads (extra API instances of the stack, 64 connections)');
      const prefix = process.env.REDIS_PREFIX ?? 'lc:';
      variants = await benchVariants({
        redisUrl,
        redisPrefix: prefix,
        modelName,
        samples,
        seconds,
        log,
        variants: [
          { variant: 'DECODE_IN=auto (default)', env: {} },
          { variant: 'DECODE_IN=api', env: { DECODE_IN: 'api' } },
          { variant: 'DECODE_IN=worker', env: { DECODE_IN: 'worker' } },
          { variant: 'UV_THREADPOOL_SIZE=4 (libuv default)', env: { UV_THREADPOOL_SIZE: '4' } },
          { variant: 'SHARP_CONCURRENCY=2', env: { SHARP_CONCURRENCY: '2' } },
        ],
      });
    }
    if (!skip.has('payload-log')) {
      // Extra API instances on the stack's Redis prefix: the stack's payload logger drains what they log.
      log('\n== payload log (extra API instances of the stack, 64 connections): none, 10% (the default), 100%');
      payloadLog = await benchVariants({
        redisUrl,
        redisPrefix: process.env.REDIS_PREFIX ?? 'lc:',
        modelName,
        samples,
        seconds,
        log,
        variants: ['0', '0.1', '1'].map((share) => ({ variant: `PAYLOAD_LOG_SAMPLE=${share}`, env: { PAYLOAD_LOG_SAMPLE: share } })),
      });
    }
    if (!skip.has('transport')) {
      log('\n== transport: single Redis against a Redis Cluster (a fleet of its own on each, same run)');
      const bodies = samples.slice(0, 200).map((s) => s.png);
      transport = await benchTransport({ mlflow, modelName, redisUrl, trackingUri, workDir, workers: Number(values['heavy-workers']), seconds, bodies, log });
    }
    if (!skip.has('heavy')) {
      log('\n== compute-bound CNN (made here, random weights), a fleet of its own');
      heavy = await benchHeavy({ mlflow, redisUrl, trackingUri, workDir, workers: Number(values['heavy-workers']), connections: 64, seconds, maxBatchSize: Number(values['heavy-batch']), log });
    }
    if (!skip.has('accuracy') && Number(values.accuracy) > 0) {
      log(`\n== held-out accuracy through ${values.url}/predict`);
      accuracy = await measureAccuracy(`${values.url}/predict`, samples.slice(0, Number(values.accuracy)));
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  log(`\n${modelName} v${fashion.model.version}, in-process limit ${fashion.inProcess.rps.toFixed(0)} images/s (mean batch ${fashion.inProcess.meanBatch.toFixed(1)})`);
  console.table([...fashion.levels.map((l) => ({ route: '/predict', ...row(l) })), ...(oip ? [{ route: `/v2/models/${modelName}/infer`, ...row(oip) }] : [])]);
  if (others.length) console.table(others.map((o) => ({ model: `${o.model} v${o.version}`, ...row(o.load) })));
  if (shadow) {
    const label = (traffic: 'none' | 'shadow') => (traffic === 'none' ? 'none' : `shadow 100% (v${shadow.candidate})`);
    console.table(shadow.rounds.flatMap((r, i) => r.levels.map((l) => ({ round: i + 1, traffic: label(r.traffic), ...row(l) }))));
    console.table([...shadow.none.map((l) => ({ traffic: `none, mean of ${shadow.rounds.length / 2}`, ...row(l) })), ...shadow.shadow.map((l) => ({ traffic: `${label('shadow')}, mean of ${shadow.rounds.length / 2}`, ...row(l) }))]);
  }
  if (variants.length) console.table(variants.map((v) => ({ variant: v.variant, ...row(v.load) })));
  if (payloadLog.length) console.table(payloadLog.map((v) => ({ 'payload log': v.variant, ...row(v.load) })));
  if (transport) {
    const t = transport;
    console.table([t.single, t.cluster].map((line) => ({ transport: line.transport, 'one model, 64 conn, req/s': +line.oneModel.rps.toFixed(0), 'p99 ms': +line.oneModel.p99.toFixed(1), 'two models, 32+32 conn, req/s': +line.twoModels.rps.toFixed(0), 'p99 ms (worst)': +Math.max(...line.twoModels.loads.map((l) => l.p99)).toFixed(1) })));
    log(`cluster / single Redis: one model ${(100 * t.cluster.oneModel.rps / t.single.oneModel.rps).toFixed(0)}%, two models ${(100 * t.cluster.twoModels.rps / t.single.twoModels.rps).toFixed(0)}%`);
  }
  if (heavy) {
    log(`heavy CNN: ${(heavy.flopsPerImage / 1e6).toFixed(0)} MFLOP/image, ${heavy.workers} worker(s)`);
    console.table(heavy.raw.map((r) => ({ 'raw onnxruntime batch': r.batchSize, threads: r.threads, 'images/s': +r.imagesPerSecond.toFixed(1) })));
    console.table([heavy.batched, heavy.unbatched].map((l) => ({ workers: heavy.workers, MAX_BATCH_SIZE: l.maxBatchSize, ...row(l) })).concat(heavy.spareCore ? [{ workers: heavy.spareCore.workers, MAX_BATCH_SIZE: heavy.spareCore.load.maxBatchSize, ...row(heavy.spareCore.load) }] : []));
    const spare = heavy.spareCore;
    // Not a goal: the same service when its HTTP, decode, queue and the load generator do not take CPU from inference.
    if (spare) log(`heavy CNN with a core to spare: ${spare.workers} worker(s) reach ${(100 * spare.ratioToRaw).toFixed(0)}% of raw onnxruntime with ${spare.workers} thread(s) (${spare.load.rps.toFixed(0)} / ${spare.raw.imagesPerSecond.toFixed(0)} at batch ${spare.raw.batchSize}); with ${heavy.workers} worker(s) the CPU outside onnxruntime caps the ratio at ${(100 * heavy.cpu.ceilingRatio).toFixed(0)}%`);
  }
  if (accuracy) log(`accuracy through /predict: ${(100 * accuracy.accuracy).toFixed(2)}% of ${accuracy.answered} answered (${JSON.stringify(accuracy.statuses)}), version(s) ${accuracy.versions.join(',')}`);
  const results = goals(fashion, heavy, shadow, payloadLog);
  console.table(results.map((g) => ({ goal: g.goal, measured: g.measured, met: g.met ? 'yes' : 'NO' })));

  const report = { machine: { cores: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg() }, fashion, oip, otherModels: others, shadow, variants, payloadLog, transport, heavy, accuracy, goals: results, date: new Date().toISOString() };
  if (values.json) {
    mkdirSync(dirname(values.json), { recursive: true });
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
  const chartFile = values.chart ?? (values.json ? values.json.replace(/\.json$/, '') + '.png' : 'bench-results.png');
  const pts = (levels: LoadResult[], p: 'p50' | 'p99') => levels.map((l) => ({ x: l.rps, y: l[p], label: `c=${l.connections}` }));
  const panels: Array<{ title: string; series: Series[] }> = [
    {
      title: `${modelName} (decode-bound)`,
      series: [
        { name: 'p50', color: '#1f77b4', points: pts(fashion.levels, 'p50') },
        { name: 'p99', color: '#d62728', points: pts(fashion.levels, 'p99') },
        { name: `in-process limit ${fashion.inProcess.rps.toFixed(0)}/s`, color: '#2ca02c', dashed: true, points: [{ x: fashion.inProcess.rps, y: 0, label: '' }, { x: fashion.inProcess.rps, y: Math.max(...fashion.levels.map((l) => l.p99)), label: '' }] },
      ],
    },
  ];
  if (heavy) {
    panels.push({
      title: `heavy CNN ${(heavy.flopsPerImage / 1e6).toFixed(0)} MFLOP/image, 64 connections`,
      series: [
        { name: `p50 / p99, MAX_BATCH_SIZE=${heavy.batched.maxBatchSize}`, color: '#1f77b4', points: [{ x: heavy.batched.rps, y: heavy.batched.p50, label: 'p50' }, { x: heavy.batched.rps, y: heavy.batched.p99, label: 'p99' }] },
        { name: 'p50 / p99, MAX_BATCH_SIZE=1', color: '#d62728', points: [{ x: heavy.unbatched.rps, y: heavy.unbatched.p50, label: 'p50' }, { x: heavy.unbatched.rps, y: heavy.unbatched.p99, label: 'p99' }] },
        { name: `raw onnxruntime, batch ${heavy.bestRaw.batchSize}`, color: '#2ca02c', dashed: true, points: [{ x: heavy.bestRaw.imagesPerSecond, y: 0, label: '' }, { x: heavy.bestRaw.imagesPerSecond, y: heavy.unbatched.p99, label: '' }] },
      ],
    });
  }
  await writeChart(chartFile, panels, `npm run bench, ${new Date().toISOString()}, ${cpus().length} cores, wrk`);
  log(`\nchart: ${chartFile}${values.json ? `, JSON: ${values.json}` : ''}`);
  if (values.strict && results.some((g) => !g.met)) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
