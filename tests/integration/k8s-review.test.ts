/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access,
   @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   rendered manifests are untyped JSON documents walked by path; a wrong path fails an expectation. */
/**
 * The rendered overlays checked against how Prometheus, Kubernetes, KEDA and MLflow behave (issue 18),
 * with the real tools: `kubectl kustomize`, the Debian `prometheus` binary (relabelling), the project
 * venv's MLflow (schema migration). Each test fails on the manifests before that review.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ConfigError, commonSchema, loadConfig } from '../../lib/env';
import { queueKeys } from '../../lib/queue/keys';
import { temporalWorkerSchema } from '../../lib/temporal/worker-config';

const ROOT = resolve(__dirname, '../..');
const OVERLAYS = ['local', 'production'] as const;
type Overlay = (typeof OVERLAYS)[number];
type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };
const rendered = {} as Record<Overlay, Obj[]>;
const all = (o: Overlay, kind: string) => rendered[o].filter((x) => x.kind === kind);
const get = (o: Overlay, kind: string, name: string) => rendered[o].find((x) => x.kind === kind && x.metadata.name.startsWith(name))!;
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env, maxBuffer: 64 << 20 });
let work: string;

/** Environment a container sees: its ConfigMaps (envFrom), then its own env (which wins). */
function envOf(o: Overlay, c: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const src of c.envFrom ?? []) Object.assign(env, get(o, 'ConfigMap', src.configMapRef.name).data);
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}
const seconds = (q: string) => Number(q) / 1000;
const gib = (q: string) => Number(q.replace(/Gi$/, '')) || Number(q.replace(/Mi$/, '')) / 1024;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'k8s-review-'));
  for (const o of OVERLAYS) {
    const res = run('kubectl', ['kustomize', `infra/k8s/overlays/${o}`]);
    if (res.status !== 0) throw new Error(`kubectl kustomize ${o}: ${res.stderr}`);
    rendered[o] = parseAllDocuments(res.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(OVERLAYS)('%s overlay', (o) => {
  const scrapeConfig = () => parse(get(o, 'ConfigMap', 'lifecycle-prometheus-scrape').data['prometheus-scrape.yml']);
  // Lifecycle's own processes (the local overlay's dev Redis/PostgreSQL/MinIO are not judged here).
  const own = () => all(o, 'Deployment').filter((d) => d.metadata.labels?.['lifecycle.dev/built-here'] === 'true');
  const pods = () => all(o, 'Deployment').map((d) => ({ name: d.metadata.name, ns: d.metadata.namespace, meta: d.spec.template.metadata, spec: d.spec.template.spec }));

  test('every scraped pod template carries each label the scrape config keeps', () => {
    const keeps = scrapeConfig().scrape_configs.flatMap((j: any) => j.relabel_configs.filter((r: any) => r.action === 'keep'));
    const labelKeeps = keeps.filter((r: any) => r.source_labels[0].startsWith('__meta_kubernetes_pod_label_'));
    expect(labelKeeps.length).toBeGreaterThan(0);
    for (const p of pods().filter((x) => x.meta.annotations?.['prometheus.io/scrape'] === 'true')) {
      const labels = Object.fromEntries(Object.entries(p.meta.labels as Record<string, string>).map(([k, v]) => [k.replace(/[^a-zA-Z0-9_]/g, '_'), v]));
      for (const r of labelKeeps) {
        const value = labels[r.source_labels[0].replace('__meta_kubernetes_pod_label_', '')] ?? '';
        expect([p.name, r.source_labels[0], new RegExp(`^(?:${r.regex})$`).test(value)]).toEqual([p.name, r.source_labels[0], true]);
      }
    }
  });

  test('the real Prometheus, given the rendered scrape config and these pods, keeps every scraped one', async () => {
    // kubernetes_sd replaced by file_sd with the meta labels kubernetes_sd would give each pod: one
    // target per declared container port, labels and annotations sanitised the way Prometheus does.
    const dir = mkdtempSync(join(work, `prom-${o}-`));
    const meta = (kind: string, m: Record<string, string> = {}) => Object.fromEntries(Object.entries(m).map(([k, v]) => [`__meta_kubernetes_pod_${kind}_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`, v]));
    const targets = pods().flatMap((p, i) =>
      p.spec.containers.flatMap((c: any) =>
        (c.ports ?? []).map((port: any) => ({
          targets: [`10.0.0.${i + 1}:${port.containerPort}`],
          labels: { ...meta('label', p.meta.labels), ...meta('annotation', p.meta.annotations), __meta_kubernetes_pod_name: `${p.name}-0`, __meta_kubernetes_namespace: p.ns, __meta_kubernetes_pod_container_port_number: String(port.containerPort) },
        })),
      ),
    );
    writeFileSync(join(dir, 'pods.json'), JSON.stringify(targets));
    const config = scrapeConfig();
    for (const job of config.scrape_configs) {
      delete job.kubernetes_sd_configs;
      job.file_sd_configs = [{ files: [join(dir, 'pods.json')] }];
    }
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      let active: { job: string; instance: string; process?: string }[] = [];
      for (let t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 500))) {
        const body = await fetch(`http://127.0.0.1:${port}/api/v1/targets`).then((r) => r.json() as Promise<any>).catch(() => null);
        if (!body) continue;
        active = body.data.activeTargets.map((t: any) => ({ job: t.labels.job, instance: t.labels.instance, process: t.labels.process }));
        if (body.data.activeTargets.length + body.data.droppedTargets.length >= targets.length) break;
      }
      const scraped = pods().filter((p) => p.meta.annotations?.['prometheus.io/scrape'] === 'true');
      expect(scraped.map((p) => p.name).sort()).toEqual(['api', 'inference-worker', 'payload-logger', 'pipeline-worker', 'training-worker']);
      expect(active.filter((t) => t.job !== 'temporal-sdk').map((t) => `${t.job} ${t.instance}`).sort()).toEqual(scraped.map((p) => `${p.name} ${p.name}-0`).sort());
      expect(active.filter((t) => t.job === 'temporal-sdk').map((t) => t.process).sort()).toEqual(['pipeline-worker', 'training-worker']);
    } finally {
      prom.kill('SIGTERM');
    }
  }, 60_000);

  test('every Deployment behind a Service waits in preStop, and its grace period outlasts preStop + drain', () => {
    // Drain after SIGTERM: the API's SHUTDOWN_TIMEOUT_MS; MLflow's server stops gracefully within 30 s.
    const drain: Record<string, (env: Record<string, string>) => number> = { api: (env) => seconds(env.SHUTDOWN_TIMEOUT_MS!), mlflow: () => 30 };
    const served = all(o, 'Service').filter((s) => s.spec.clusterIP !== 'None');
    const targets = own().filter((d) => served.some((s) => Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v)));
    expect(targets.map((d) => d.metadata.name).sort()).toEqual(['api', 'mlflow']);
    for (const d of targets) {
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect([d.metadata.name, preStop >= 5]).toEqual([d.metadata.name, true]);
      expect([d.metadata.name, pod.terminationGracePeriodSeconds > preStop + drain[d.metadata.name]!(envOf(o, c))]).toEqual([d.metadata.name, true]);
    }
  });

  test('Temporal workers: a shutdown grace set, the pod grace longer, a rollout never cut short', () => {
    for (const name of ['pipeline-worker', 'training-worker']) {
      const pod = get(o, 'Deployment', name).spec.template.spec;
      const env = envOf(o, pod.containers[0]);
      const grace = loadConfig(temporalWorkerSchema.pick({ TEMPORAL_SHUTDOWN_GRACE_MS: true }), env).TEMPORAL_SHUTDOWN_GRACE_MS / 1000;
      expect([name, grace >= 60, pod.terminationGracePeriodSeconds >= grace + 30]).toEqual([name, true, true]);
      if (name === 'pipeline-worker') expect(grace).toBeGreaterThan(seconds(env.DEPLOY_TIMEOUT_MS!));
    }
  });

  test('PDBs let unready pods go; inference pods are Guaranteed; big emptyDirs are requested as disk', () => {
    for (const pdb of all(o, 'PodDisruptionBudget')) expect([pdb.metadata.name, pdb.spec.unhealthyPodEvictionPolicy]).toEqual([pdb.metadata.name, 'AlwaysAllow']);
    for (const c of get(o, 'Deployment', 'inference-worker').spec.template.spec.containers) {
      expect([c.resources.requests.cpu, c.resources.requests.memory]).toEqual([c.resources.limits.cpu, c.resources.limits.memory]);
    }
    for (const d of own()) {
      const pod = d.spec.template.spec;
      const disk = (pod.volumes ?? []).filter((v: any) => v.emptyDir && v.emptyDir.medium !== 'Memory').reduce((n: number, v: any) => n + gib(v.emptyDir.sizeLimit), 0);
      if (disk >= 2) expect([d.metadata.name, gib(pod.containers[0].resources.requests['ephemeral-storage'] ?? '0') >= Math.floor(disk)]).toEqual([d.metadata.name, true]);
    }
  });

  test('the MLflow schema migration runs in an init container, before the server, with its databases', () => {
    const pod = get(o, 'Deployment', 'mlflow').spec.template.spec;
    const [init] = pod.initContainers;
    // An init container (not a sidecar: no restartPolicy Always) runs to completion before any container starts.
    expect([pod.initContainers.length, init.restartPolicy, pod.containers[0].name]).toEqual([1, undefined, 'mlflow']);
    expect(init.image).toBe(pod.containers[0].image);
    const mount = init.volumeMounts.find((m: any) => init.command.join(' ').includes(m.mountPath));
    const cm = pod.volumes.find((v: any) => v.name === mount.name).configMap.name;
    expect(Object.keys(get(o, 'ConfigMap', cm).data)).toEqual(['mlflow-db-upgrade.py']);
    const secretOf = (c: any, n: string) => c.env.find((e: any) => e.name === n)?.valueFrom?.secretKeyRef;
    for (const n of ['MLFLOW_BACKEND_STORE_URI', 'MLFLOW_AUTH_DATABASE_URI']) expect(secretOf(init, n)).toEqual(secretOf(pod.containers[0], n));
  });

  test('the mlflow-users Job is named after the release and does not linger for a day', () => {
    const job = all(o, 'Job').find((j) => j.metadata.name.startsWith('mlflow-users'))!;
    const tag = /:([^@:/]+)(@|$)/.exec(job.spec.template.spec.containers[0].image)![1]!;
    expect(job.metadata.name).toBe(`mlflow-users-${tag.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}`);
    expect(job.spec.ttlSecondsAfterFinished).toBeLessThanOrEqual(3600);
  });

  test('DNS works with NodeLocal DNSCache; S3 egress reaches no private or link-local address', () => {
    const dns = get(o, 'NetworkPolicy', 'allow-dns').spec.egress;
    expect(dns.map((r: any) => r.to)).toEqual([undefined]);
    for (const rule of get(o, 'NetworkPolicy', 's3-clients-egress').spec.egress) {
      expect(rule.to?.length).toBeGreaterThan(0);
      for (const peer of rule.to) if (peer.ipBlock) expect(peer.ipBlock.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '169.254.0.0/16']));
    }
  });
});

test('the inference ScaledObject is generated from the served models, and up to date', () => {
  const res = run('node', ['infra/k8s/tools/gen-inference-scaling.mjs', '--check']);
  expect([res.status, res.stderr]).toEqual([0, '']);
});

describe('Redis Cluster: production scales and connects on it, local stays on its one Redis', () => {
  const servedModels = () => (parse(readFileSync(join(ROOT, 'infra/k8s/base/served-models.yaml'), 'utf8')) as { models: string[] }).models;
  const prefixOf = (o: Overlay) => get(o, 'ConfigMap', 'lifecycle-config').data.REDIS_PREFIX as string;
  const inferenceScaler = (o: Overlay) => {
    const found = all(o, 'ScaledObject').filter((x) => x.metadata.name === 'inference-worker');
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  /** The Deployments whose containers read REDIS_URL: every process that talks to Redis. */
  const redisClients = (o: Overlay) =>
    all(o, 'Deployment').filter((d) => d.metadata.labels?.['lifecycle.dev/built-here'] === 'true' && d.spec.template.spec.containers.some((c: any) => (c.env ?? []).some((e: any) => e.name === 'REDIS_URL')));
  const envVar = (d: Obj, name: string) => d.spec.template.spec.containers.flatMap((c: any) => c.env ?? []).find((e: any) => e.name === name);

  test('production: one inference ScaledObject, redis-cluster-streams on every served model\'s hash-tagged stream', () => {
    const so = inferenceScaler('production');
    const prefix = prefixOf('production');
    const models = servedModels();
    expect(models.length).toBeGreaterThan(0);
    expect(so.spec.triggers.map((t: any) => t.type)).toEqual(models.map(() => 'redis-cluster-streams'));
    // The stream lib/queue/keys.ts names, braces (the hash tag) and all.
    expect(so.spec.triggers.map((t: any) => t.metadata.stream)).toEqual(models.map((m) => queueKeys(prefix).requests(m)));
    expect(so.spec.triggers.map((t: any) => t.metadata.stream)).toEqual(models.map((m) => `${prefix}inference:{${m}}:requests`));
    for (const t of so.spec.triggers) {
      // XLEN (no consumerGroup: with one KEDA would read the group instead), connection from the TriggerAuthentication.
      expect([t.name, t.metadata.streamLength, t.metadata.consumerGroup, t.authenticationRef.name]).toEqual([t.name, '13', undefined, 'lifecycle-redis']);
    }
    // Only the scaler type differs from local's (the base's): same trigger names, formula, target and bounds.
    const local = inferenceScaler('local');
    const shape = (x: Obj) => ({ ...x.spec, triggers: x.spec.triggers.map((t: any) => ({ ...t, type: undefined })) });
    expect(shape(so)).toEqual(shape(local));
  });

  test('local: the inference ScaledObject reads its one Redis (redis-streams), at the same streams', () => {
    const so = inferenceScaler('local');
    expect(so.spec.triggers.map((t: any) => [t.type, t.metadata.stream])).toEqual(servedModels().map((m) => ['redis-streams', queueKeys(prefixOf('local')).requests(m)]));
  });

  test('production: every Redis client gets REDIS_CLUSTER_NODES from the Secret key KEDA reads its addresses from', () => {
    const clients = redisClients('production');
    expect(clients.map((d) => d.metadata.name).sort()).toEqual(['api', 'inference-worker', 'payload-logger', 'pipeline-worker']);
    const auth = get('production', 'TriggerAuthentication', 'lifecycle-redis').spec.secretTargetRef as { parameter: string; name: string; key: string }[];
    const addresses = auth.find((r) => r.parameter === 'addresses');
    expect(addresses).toEqual({ parameter: 'addresses', name: 'lifecycle-redis', key: 'cluster-nodes' });
    // No single-node address left for the cluster triggers to prefer.
    expect(auth.map((r) => r.parameter).sort()).toEqual(['addresses', 'password']);
    for (const d of clients) {
      const nodes = envVar(d, 'REDIS_CLUSTER_NODES');
      expect([d.metadata.name, nodes?.valueFrom?.secretKeyRef]).toEqual([d.metadata.name, { name: addresses!.name, key: addresses!.key }]);
      // REDIS_URL (credentials, TLS) from the same Secret.
      expect([d.metadata.name, envVar(d, 'REDIS_URL').valueFrom.secretKeyRef.name]).toEqual([d.metadata.name, addresses!.name]);
    }
    // The value the Secret must hold is what the processes accept.
    const schema = commonSchema.pick({ REDIS_CLUSTER_NODES: true });
    expect(loadConfig(schema, { REDIS_CLUSTER_NODES: 'redis-0.example:6379,redis-1.example:6379' }).REDIS_CLUSTER_NODES).toBe('redis-0.example:6379,redis-1.example:6379');
    expect(() => loadConfig(schema, { REDIS_CLUSTER_NODES: 'redis://redis-0.example:6379' })).toThrow(/REDIS_CLUSTER_NODES/);
  });

  test('local: no process is a cluster client, and KEDA reads the single Redis address', () => {
    expect(redisClients('local').map((d) => d.metadata.name).sort()).toEqual(['api', 'inference-worker', 'payload-logger', 'pipeline-worker']);
    for (const d of all('local', 'Deployment')) expect([d.metadata.name, envVar(d, 'REDIS_CLUSTER_NODES')]).toEqual([d.metadata.name, undefined]);
    expect(get('local', 'ConfigMap', 'lifecycle-config').data.REDIS_CLUSTER_NODES).toBeUndefined();
    const auth = get('local', 'TriggerAuthentication', 'lifecycle-redis').spec.secretTargetRef as { parameter: string }[];
    expect(auth.map((r) => r.parameter).sort()).toEqual(['address', 'password']);
  });
});

test('production names no bucket of its own: both settings empty, and the processes refuse that, naming them', () => {
  const data = (n: string) => get('production', 'ConfigMap', n).data;
  expect([data('lifecycle-config').DVC_REMOTE_URL, data('mlflow-config').MLFLOW_ARTIFACTS_DESTINATION]).toEqual(['', '']);
  // The setting no process read is gone.
  expect(data('lifecycle-config').MLFLOW_ARTIFACTS_DESTINATION).toBeUndefined();
  expect(() => loadConfig(temporalWorkerSchema, { DVC_REMOTE_URL: '' })).toThrow(ConfigError);
  expect(() => loadConfig(temporalWorkerSchema, { DVC_REMOTE_URL: '' })).toThrow(/DVC_REMOTE_URL/);
  const env = { PATH: process.env.PATH, MLFLOW_BACKEND_STORE_URI: 'sqlite:///x', MLFLOW_AUTH_DATABASE_URI: 'sqlite:///y', MLFLOW_AUTH_ADMIN_USERNAME: 'a', MLFLOW_AUTH_ADMIN_PASSWORD: 'p'.repeat(20), MLFLOW_FLASK_SERVER_SECRET_KEY: 'k'.repeat(40), MLFLOW_ARTIFACTS_DESTINATION: '' };
  const mlflow = run('sh', ['infra/docker/mlflow/start-server.sh'], env);
  expect([mlflow.status, mlflow.stderr]).toEqual([1, expect.stringContaining('MLFLOW_ARTIFACTS_DESTINATION is not set')]);
});

test('the rendered migration script brings empty tracking and auth databases to head, and a second run is a no-op', () => {
  const script = join(work, 'mlflow-db-upgrade.py');
  writeFileSync(script, get('production', 'ConfigMap', 'mlflow-db-upgrade').data['mlflow-db-upgrade.py']);
  const env = { ...process.env, MLFLOW_BACKEND_STORE_URI: `sqlite:///${join(work, 'tracking.db')}`, MLFLOW_AUTH_DATABASE_URI: `sqlite:///${join(work, 'auth.db')}` };
  const python = join(ROOT, '.venv/bin/python');
  const first = run(python, [script], env);
  expect([first.status, first.stdout]).toEqual([0, expect.stringContaining('creating the tracking database schema')]);
  const second = run(python, [script], env);
  expect([second.status, second.stdout]).toEqual([0, expect.stringContaining('upgrading the tracking database')]);
  // The server's own check: a store on this database opens without asking for `mlflow db upgrade`.
  const open = run(python, ['-c', 'import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; S(sys.argv[1], "/tmp"); print("opened")', env.MLFLOW_BACKEND_STORE_URI], env);
  expect([open.status, open.stdout.trim()]).toEqual([0, 'opened']);
}, 120_000);

test('training replicas: the KEDA formula gives the numbers of the table in infra/k8s/README.md', () => {
  const so = get('production', 'ScaledObject', 'training-worker');
  const { formula, target } = so.spec.advanced.scalingModifiers;
  // KEDA evaluates the formula with expr-lang; this one (names, numbers, + > ?: and parentheses) means the same in JavaScript.
  expect(formula).toMatch(/^[a-z0-9_ +>?:()]+$/);
  const names = so.spec.triggers.map((t: any) => t.name).sort();
  expect(names).toEqual(['backlog', 'busy', 'pods']);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the formula is checked above to be a plain arithmetic expression
  const f = new Function('backlog', 'busy', 'pods', `return ${formula};`) as (backlog: number, busy: number, pods: number) => number;
  const asked = (backlog: number, busy: number, pods: number) => Math.min(so.spec.maxReplicaCount, Math.max(so.spec.minReplicaCount, Math.ceil(f(backlog, busy, pods) / Number(target))));
  const readme = readFileSync(join(ROOT, 'infra/k8s/README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('<!-- training-scaling-table -->'), readme.indexOf('<!-- /training-scaling-table -->'));
  const rows = [...table.matchAll(/^\| ([^|]+) \| (\d+) \| (\d+) \| (\d+) \| (\d+)[^|]*\|/gm)].map((m) => m.slice(1).map((x) => x.trim()));
  expect(rows.length).toBeGreaterThanOrEqual(6);
  for (const [what, backlog, busy, pods, replicas] of rows) expect([what, asked(Number(backlog), Number(busy), Number(pods))]).toEqual([what, Number(replicas)]);
  // A running activity is never the one scaled in: while any runs, the count asked is never below the pods there are.
  for (let pods = 1; pods <= so.spec.maxReplicaCount; pods++) for (let busy = 1; busy <= pods; busy++) expect(asked(0, busy, pods)).toBe(pods);
});

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
    srv.on('error', fail);
  });
}
