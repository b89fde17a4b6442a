/**
 * A light, steady load of held-out Fashion-MNIST test images on the stack's API, for a local demo of a
 * progressive rollout: its analysis judges the candidate on live traffic, and a local stack has none of
 * its own. `make train` runs this in the background while it promotes; `make load` runs it alone.
 * Production traffic needs nothing of the sort.
 *
 *   npx tsx scripts/demo-load.ts [--url http://127.0.0.1:8000] [--rate 20] [--connections 2] [--seconds N]
 *
 * Runs until SIGINT/SIGTERM (or --seconds), then prints what was answered, by version and status.
 */
import { parseArgs } from 'node:util';
import { heldOutSamples } from '../bench/samples';
import { Load } from '../drills/load';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.API_URL ?? 'http://127.0.0.1:8000' },
      rate: { type: 'string', default: '20' },
      connections: { type: 'string', default: '2' },
      seconds: { type: 'string' },
    },
    strict: true,
  });
  const rate = Number(values.rate);
  const connections = Number(values.connections);
  if (!(rate > 0) || !Number.isInteger(connections) || connections < 1) throw new Error('--rate must be > 0 and --connections a positive integer');
  const images = (await heldOutSamples(500)).map((s) => s.png);
  const load = Load.start({ targets: [values.url], images, connections, rate, timeoutMs: 20_000 });
  console.log(`demo load: ${rate} req/s of held-out images on ${values.url}/predict (stop with Ctrl-C)`);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (values.seconds !== undefined) setTimeout(resolve, Number(values.seconds) * 1000).unref();
  });
  await stop;
  const summary = await load.stop();
  const versions = new Map<string, number>();
  for (const r of load.records) if (r.version) versions.set(r.version, (versions.get(r.version) ?? 0) + 1);
  const byVersion = [...versions].map(([v, n]) => `v${v}: ${n}`).join(', ');
  console.log(`demo load: ${summary.sent} sent, ${summary.ok} answered 200 (${byVersion || 'none'}), errors ${JSON.stringify(summary.errors)}, lost ${summary.lost}`);
}

main().catch((err: unknown) => {
  console.error(`demo-load: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
