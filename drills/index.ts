/**
 * `npm run drills`: fault drills against the live local stack (`make up`), under load.
 * Exits 0 when every drill passed, 1 when one lost data or left the system inconsistent,
 * 2 on bad usage or when no stack answers.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { heldOutSamples } from '../bench/samples';
import { DRILLS } from './catalog';
import { waitConsistent } from './consistency';
import { DrillContext, type Drill, type DrillOptions, type DrillReport, type DrillResult } from './drill';
import { details, table, writeJson } from './report';
import { ROOT, Stack } from './stack';

const USAGE = `Fault drills against the stack \`make up\` started (same LIFECYCLE_STATE_DIR / LIFECYCLE_PORT_OFFSET as make):

  npm run drills -- [DRILL ...] [--ci] [--json FILE] [--start] [--connections N] [--rate N] [--list]

  DRILL ...        run only these (default: all; see --list)
  --ci             the short CI version: ${DRILLS.filter((d) => d.ci).map((d) => d.name).join(', ')} with a bounded load and short waits
  --json FILE      also write the results as JSON
  --start          start the stack (make up) when none answers
  --connections N  concurrent clients of the load (default 4)
  --rate N         ceiling on the load's requests per second (default 100; --ci: 40)
  --list           the drills and their faults`;

let current: DrillContext | null = null;

async function openStack(start: boolean): Promise<Stack | null> {
  let stack = await Stack.open();
  let why = await stack.notReady();
  if (why && start) {
    console.log(`${why}: starting the stack (make up)`);
    await stack.close();
    const up = spawnSync('bash', ['infra/local/stack.sh', 'up'], { cwd: ROOT, stdio: 'inherit' });
    if (up.status !== 0) throw new Error(`make up failed (exit ${up.status})`);
    stack = await Stack.open();
    why = await stack.notReady();
  }
  if (!why) return stack;
  const where = [process.env.LIFECYCLE_STATE_DIR && `LIFECYCLE_STATE_DIR=${process.env.LIFECYCLE_STATE_DIR}`, process.env.LIFECYCLE_PORT_OFFSET && `LIFECYCLE_PORT_OFFSET=${process.env.LIFECYCLE_PORT_OFFSET}`]
    .filter(Boolean)
    .join(' ');
  console.error(`No stack to drill: ${why}.\nStart one with \`${where ? `${where} ` : ''}make up\` (the same variables as for this command), or run \`npm run drills -- --start\`.`);
  await stack.close();
  return null;
}

async function runOne(stack: Stack, drill: Drill, options: DrillOptions, images: Buffer[]): Promise<DrillResult> {
  const t0 = Date.now();
  console.log(`\n== ${drill.name}: ${drill.fault}`);
  const ctx = new DrillContext(stack, options, images, drill.name);
  current = ctx;
  let report: DrillReport = { load: null, workflow: '-', recoverMs: null, recoveredWhen: '-' };
  const before = await waitConsistent(stack, 60_000);
  if (before.problems.length > 0) {
    ctx.problems.push(...before.problems.map((p) => `before the drill: ${p}`));
  } else {
    try {
      report = await drill.run(ctx);
    } catch (err) {
      ctx.problems.push(`drill stopped: ${(err as Error).message}`);
    }
  }
  await ctx.cleanup();
  current = null;
  // Whatever the drill did, the stack must end whole: champion, fleet and workers agreeing, nothing stuck.
  const after = await waitConsistent(stack, 90_000);
  ctx.problems.push(...after.problems.map((p) => `after the drill: ${p}`));
  const result: DrillResult = { name: drill.name, fault: drill.fault, ...report, passed: ctx.problems.length === 0, problems: ctx.problems, notes: ctx.notes, durationMs: Date.now() - t0 };
  console.log(`   ${result.passed ? 'PASS' : 'FAIL'} in ${((Date.now() - t0) / 1000).toFixed(0)} s${result.problems.map((p) => `\n   PROBLEM: ${p}`).join('')}`);
  return result;
}

function select(names: string[], ci: boolean): Drill[] {
  if (names.length === 0) return ci ? DRILLS.filter((d) => d.ci) : DRILLS;
  const unknown = names.filter((n) => !DRILLS.some((d) => d.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown drill(s) ${unknown.join(', ')}; choose from ${DRILLS.map((d) => d.name).join(', ')}`);
  return DRILLS.filter((d) => names.includes(d.name));
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ci: { type: 'boolean', default: false },
      json: { type: 'string' },
      start: { type: 'boolean', default: false },
      connections: { type: 'string', default: '4' },
      rate: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.list) {
    for (const d of DRILLS) console.log(`${d.name.padEnd(18)}${d.fault}${d.ci ? '  (ci)' : ''}`);
    return 0;
  }
  const drills = select(positionals, values.ci);
  const options: DrillOptions = { ci: values.ci, connections: Number(values.connections), rate: Number(values.rate ?? (values.ci ? 40 : 100)) };
  if (!(options.connections >= 1 && options.connections <= 64) || !(options.rate >= 0)) throw new UsageError('--connections must be 1-64 and --rate a number >= 0');

  const stack = await openStack(values.start);
  if (!stack) return 2;
  const startedAt = new Date();
  process.once('SIGINT', () => {
    console.error('\ninterrupted: undoing what the running drill started');
    void (current?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130));
  });
  try {
    const images = (await heldOutSamples(200)).map((s) => s.png);
    console.log(`drilling the stack in ${stack.stateDir} (API ${stack.apiUrls.join(' ')}, Redis prefix ${stack.prefix}): ${drills.map((d) => d.name).join(', ')}`);
    console.log(`load: ${options.connections} connections, at most ${options.rate || 'unlimited'} req/s, ${images.length} held-out images`);
    const results: DrillResult[] = [];
    for (const drill of drills) results.push(await runOne(stack, drill, options, images));
    console.log(`\n${table(results)}\n\n${details(results)}`);
    if (values.json) {
      const stackInfo = { stateDir: stack.stateDir, apis: stack.apiUrls, redisPrefix: stack.prefix, model: stack.modelName, plan: stack.plan.map((p) => p.name) };
      writeJson(values.json, results, { stack: stackInfo, options, startedAt });
      console.log(`\nwrote ${values.json}`);
    }
    const failed = results.filter((r) => !r.passed).length;
    console.log(`\n${results.length - failed}/${results.length} drills passed in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
    return failed === 0 ? 0 : 1;
  } finally {
    await stack.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`error: ${(err as Error).message}${usage ? `\n\n${USAGE}` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
