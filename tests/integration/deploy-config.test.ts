/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access,
   @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   rendered manifests and compose files are untyped JSON documents walked by path; a wrong path fails an expectation. */
/**
 * Deployment configuration, checked offline with the tools of .venv-tools
 * (infra/k8s/tools/setup-tools.sh): the Kubernetes overlays render and validate against the
 * Kubernetes and KEDA schemas, pass checkov, and keep the security and wiring rules that the
 * README promises; the compose files validate and the production one refuses missing or default
 * credentials; the Dockerfiles lint clean. Every validator is also shown to reject a broken input.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { queueKeys } from '../../lib/queue/keys';

const ROOT = resolve(__dirname, '../..');
const TOOLS = join(ROOT, '.venv-tools/bin');
const OVERLAYS = ['local', 'production'] as const;
type Overlay = (typeof OVERLAYS)[number];
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see the file header
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (res.error) throw res.error;
  return res;
}
const out = (res: SpawnSyncReturns<string>) => `${res.stdout}\n${res.stderr}`;

let work: string;
const rendered = {} as Record<Overlay, { file: string; objects: K8sObject[] }>;
const find = (o: Overlay, kind: string, name: string) => rendered[o].objects.find((x) => x.kind === kind && x.metadata.name === name);

function validate(file: string): { code: number | null; report: { objects: number; errors: string[] } } {
  const res = run(join(TOOLS, 'python'), ['infra/k8s/tools/validate-manifests.py', file]);
  return { code: res.status, report: JSON.parse(res.stdout) };
}

beforeAll(() => {
  const t0 = Date.now();
  const setup = run('bash', ['infra/k8s/tools/setup-tools.sh']);
  if (setup.status !== 0) throw new Error(`setup-tools.sh failed:\n${out(setup)}`);
  console.log(`deploy-config: tools ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  work = mkdtempSync(join(tmpdir(), 'deploy-config-'));
  for (const o of OVERLAYS) {
    // No --load-restrictor flag: the dashboard comes in through infra/grafana/kustomization.yaml.
    const res = run('kubectl', ['kustomize', `infra/k8s/overlays/${o}`]);
    if (res.status !== 0) throw new Error(`kubectl kustomize ${o} failed:\n${res.stderr}`);
    mkdirSync(join(work, 'rendered'), { recursive: true });
    const file = join(work, 'rendered', `${o}.yaml`);
    writeFileSync(file, res.stdout);
    rendered[o] = { file, objects: parseAllDocuments(res.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean) };
  }
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('Kubernetes manifests', () => {
  const processes = [
    { name: 'api', port: 8000 },
    { name: 'inference-worker', port: 9101 },
    { name: 'pipeline-worker', port: 9102 },
    { name: 'training-worker', port: 9103 },
    { name: 'payload-logger', port: 9181 },
  ];

  test.each(OVERLAYS)('%s renders every component with its autoscaler, PDB and a default-deny policy', (o) => {
    const kinds = (kind: string) => rendered[o].objects.filter((x) => x.kind === kind).map((x) => x.metadata.name).sort();
    expect(kinds('Deployment')).toEqual(expect.arrayContaining(['api', 'inference-worker', 'mlflow', 'payload-logger', 'pipeline-worker', 'training-worker']));
    expect(kinds('ScaledObject')).toEqual(['inference-worker', 'pipeline-worker', 'training-worker']);
    expect(kinds('HorizontalPodAutoscaler')).toEqual(['api']);
    expect(kinds('PodDisruptionBudget')).toEqual(['api', 'inference-worker', 'mlflow', 'payload-logger', 'pipeline-worker', 'training-worker']);
    expect(kinds('NetworkPolicy')).toContain('default-deny-all');
    console.log(`deploy-config: ${o} renders ${rendered[o].objects.length} objects`);
  });

  test.each(OVERLAYS)('%s validates against the Kubernetes (1.30, 1.37) and KEDA schemas', (o) => {
    const { code, report } = validate(rendered[o].file);
    expect(report.errors).toEqual([]);
    expect(code).toBe(0);
    expect(report.objects).toBe(rendered[o].objects.length);
  });

  test('the validator rejects broken manifests, naming each fault', () => {
    const objects = structuredClone(rendered.production.objects);
    const api = objects.find((x) => x.kind === 'Deployment' && x.metadata.name === 'api')!;
    api.spec.replicas = 'two';
    api.spec.template.spec.containers[0].livenessProbe.httpGet.paht = '/healthz';
    const so = objects.find((x) => x.kind === 'ScaledObject' && x.metadata.name === 'inference-worker')!;
    so.spec.pollingIntervall = 5;
    // Not a KEDA key (the redis streams scalers' activation is activationLagCount for every signal).
    so.spec.triggers[0].metadata.activationStreamLength = '0';
    so.spec.advanced.scalingModifiers.formula += ' + backlog_typo';
    // The Redis Cluster triggers lose their seed nodes.
    const auth = objects.find((x) => x.kind === 'TriggerAuthentication' && x.metadata.name === 'lifecycle-redis')!;
    auth.spec.secretTargetRef = auth.spec.secretTargetRef.filter((r: { parameter: string }) => r.parameter !== 'addresses');
    const training = objects.find((x) => x.kind === 'ScaledObject' && x.metadata.name === 'training-worker')!;
    training.spec.maxReplicaCount = '4';
    training.spec.triggers[0].metadata.endpointFromEnv = 'TEMPORAL_ADDR';
    objects.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
    const file = join(work, 'broken.yaml');
    writeFileSync(file, objects.map((x) => stringify(x)).join('---\n'));

    const { code, report } = validate(file);
    expect(code).toBe(1);
    const errors = report.errors.join('\n');
    expect(errors).toMatch(/Deployment\/lifecycle\/api: Kubernetes 1\.30: spec\/replicas: 'two' is not of type/);
    expect(errors).toMatch(/api: Kubernetes 1\.37: .*livenessProbe\/httpGet: Additional properties .*'paht'/);
    expect(errors).toMatch(/ScaledObject\/lifecycle\/inference-worker: unknown field \.spec\.pollingIntervall/);
    expect(errors).toMatch(/inference-worker: triggers\[0\] \(redis-cluster-streams\): unknown metadata key `activationStreamLength`/);
    expect(errors).toMatch(/inference-worker: triggers\[0\] \(redis-cluster-streams\): no connection: one of addresses, addressesFromEnv/);
    expect(errors).toMatch(/inference-worker: scalingModifiers\.formula uses `backlog_typo`, which names no trigger/);
    expect(errors).toMatch(/training-worker: schema: \/spec\/maxReplicaCount must be integer/);
    expect(errors).toMatch(/training-worker: triggers\[0\] \(temporal\): `endpointFromEnv: TEMPORAL_ADDR` is not an environment variable/);
    expect(errors).toMatch(/Widget\/w: no schema for example\.com\/v1 Widget/);
  });

  test.each(OVERLAYS)('%s: every container is non-root, read-only, unprivileged, with requests and limits', (o) => {
    const workloads = rendered[o].objects.filter((x) => x.kind === 'Deployment' || x.kind === 'Job');
    expect(workloads.length).toBeGreaterThan(5);
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      const where = `${w.kind}/${w.metadata.name}`;
      expect([where, pod.securityContext?.runAsNonRoot]).toEqual([where, true]);
      expect([where, pod.securityContext?.seccompProfile?.type]).toEqual([where, 'RuntimeDefault']);
      expect([where, pod.automountServiceAccountToken]).toEqual([where, false]);
      for (const c of pod.containers) {
        const sc = c.securityContext ?? {};
        expect([where, sc.readOnlyRootFilesystem, sc.allowPrivilegeEscalation, sc.capabilities?.drop]).toEqual([where, true, false, ['ALL']]);
        expect([where, Boolean(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory)]).toEqual([where, true]);
      }
    }
  });

  test.each(OVERLAYS)('%s: probes hit /healthz and /readyz on each process port (contracts.md)', (o) => {
    for (const { name, port } of processes) {
      const c = find(o, 'Deployment', name)!.spec.template.spec.containers[0];
      const portOf = (p: number | string) => (typeof p === 'number' ? p : c.ports.find((x: { name: string }) => x.name === p).containerPort);
      expect([name, c.livenessProbe.httpGet.path, portOf(c.livenessProbe.httpGet.port)]).toEqual([name, '/healthz', port]);
      expect([name, c.readinessProbe.httpGet.path, portOf(c.readinessProbe.httpGet.port)]).toEqual([name, '/readyz', port]);
      const env = Object.fromEntries(c.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
      if (name !== 'api') expect([name, env.METRICS_PORT]).toEqual([name, String(port)]);
    }
  });

  test('the Grafana dashboard ConfigMap is the repository JSON, byte for byte', () => {
    for (const o of OVERLAYS) {
      const cm = rendered[o].objects.find((x) => x.kind === 'ConfigMap' && x.metadata.name.startsWith('lifecycle-grafana-dashboard'))!;
      expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
      // Where the Grafana charts' dashboard sidecar looks by default (Grafana's own namespace).
      expect(cm.metadata.namespace).toBe('monitoring');
      expect(cm.data['lifecycle.json']).toBe(readFileSync(join(ROOT, 'infra/grafana/dashboards/lifecycle.json'), 'utf8'));
    }
  });

  test.each(OVERLAYS)('%s: autoscalers watch the streams and task queues the processes use', (o) => {
    const config = rendered[o].objects.find((x) => x.kind === 'ConfigMap' && x.metadata.name.startsWith('lifecycle-config'))!.data;
    // One streamLength trigger per served model (base/served-models.yaml), on the stream lib/queue/keys.ts names.
    const { models } = parse(readFileSync(join(ROOT, 'infra/k8s/base/served-models.yaml'), 'utf8')) as { models: string[] };
    expect(models).toContain(config.MODEL_NAME);
    // Production's Redis is a cluster (its own KEDA scaler type), local's a single node.
    const triggers = find(o, 'ScaledObject', 'inference-worker')!.spec.triggers;
    expect(triggers.map((t: { type: string; metadata: Record<string, string> }) => [t.type, t.metadata.stream, t.metadata.streamLength !== undefined, t.metadata.lagCount])).toEqual(
      models.map((m) => [o === 'production' ? 'redis-cluster-streams' : 'redis-streams', queueKeys(config.REDIS_PREFIX).requests(m), true, undefined]),
    );
    for (const name of ['pipeline-worker', 'training-worker']) {
      const queue = find(o, 'Deployment', name)!.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'TASK_QUEUE').value;
      const temporal = find(o, 'ScaledObject', name)!.spec.triggers.find((t: { type: string }) => t.type === 'temporal');
      expect([temporal.metadata.taskQueue, temporal.metadata.namespaceFromEnv, temporal.metadata.namespace]).toEqual([queue, 'TEMPORAL_NAMESPACE', undefined]);
    }
  });

  test.each(OVERLAYS)('%s: the payload logger writes the volume the training workers read (read-only) for drift and curation', (o) => {
    const pod = (name: string) => find(o, 'Deployment', name)!.spec.template.spec;
    const mountOf = (name: string) => {
      const spec = pod(name);
      const volume = spec.volumes.find((v: { persistentVolumeClaim?: { claimName: string } }) => v.persistentVolumeClaim?.claimName === 'payload-log');
      const mount = spec.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume?.name);
      const dir = spec.containers[0].env.find((e: { name: string }) => e.name === 'PAYLOAD_LOG_DIR')?.value;
      return { path: mount?.mountPath, readOnly: mount?.readOnly === true, dir };
    };
    const logger = mountOf('payload-logger');
    const training = mountOf('training-worker');
    expect(logger).toEqual({ path: '/var/lib/payload-log', readOnly: false, dir: '/var/lib/payload-log' });
    expect(training).toEqual({ path: logger.path, readOnly: true, dir: logger.dir });
    // Several training pods, on any node, read what the logger writes: production needs ReadWriteMany.
    const claim = find(o, 'PersistentVolumeClaim', 'payload-log')!;
    expect(claim.spec.accessModes).toEqual([o === 'production' ? 'ReadWriteMany' : 'ReadWriteOnce']);
    // The API takes labeller credentials from a Secret, never from the ConfigMap.
    const api = pod('api').containers[0].env.find((e: { name: string }) => e.name === 'FEEDBACK_TOKENS');
    expect(api.valueFrom.secretKeyRef).toEqual({ name: expect.stringMatching(/^lifecycle-feedback/), key: 'tokens' });
  });

  test('production generates no Secret, and local defines every Secret key the pods use', () => {
    expect(rendered.production.objects.filter((x) => x.kind === 'Secret')).toEqual([]);
    const readme = readFileSync(join(ROOT, 'infra/k8s/README.md'), 'utf8');
    for (const o of OVERLAYS) {
      const refs = new Set<string>();
      for (const x of rendered[o].objects) {
        JSON.stringify(x, (k, v) => {
          if (k === 'secretKeyRef') refs.add(`${v.name}/${v.key}`);
          return v;
        });
        for (const r of x.kind === 'TriggerAuthentication' ? x.spec.secretTargetRef : []) refs.add(`${r.name}/${r.key}`);
      }
      const secrets = new Map(rendered[o].objects.filter((x) => x.kind === 'Secret').map((x) => [x.metadata.name, x]));
      for (const ref of refs) {
        const [name = '', key = ''] = ref.split('/');
        // Generated Secrets carry a content hash in their name; the README names the base name.
        const base = secrets.has(name) ? name.replace(/-[a-z0-9]{10}$/, '') : name;
        // The README's Secrets table documents each one an operator must create for production.
        expect([ref, readme.includes(`\`${base}\``) && readme.includes(`\`${key}\``)]).toEqual([ref, true]);
        if (o === 'local') expect([ref, secrets.get(name)?.data?.[key] !== undefined]).toEqual([ref, true]);
      }
    }
  });

  test.each(OVERLAYS)('%s: network access follows the table in infra/k8s/README.md', (o) => {
    const labels = (name: string) => find(o, 'Deployment', name)!.spec.template.metadata.labels as Record<string, string>;
    const has = (name: string, cap: string) => labels(name)[`lifecycle.dev/${cap}`] === 'true';
    const holders = (cap: string) => ['api', 'inference-worker', 'pipeline-worker', 'training-worker', 'payload-logger', 'mlflow'].filter((n) => has(n, cap));
    expect(holders('redis-client')).toEqual(['api', 'inference-worker', 'pipeline-worker', 'payload-logger']);
    expect(holders('s3-client')).toEqual(['pipeline-worker', 'training-worker', 'mlflow']);
    expect(holders('mlflow-client')).toEqual(['inference-worker', 'pipeline-worker', 'training-worker']);
    expect(holders('temporal-client')).toEqual(['pipeline-worker', 'training-worker']);
    const deny = find(o, 'NetworkPolicy', 'default-deny-all')!;
    expect([deny.spec.podSelector, deny.spec.policyTypes]).toEqual([{}, ['Ingress', 'Egress']]);
    // Worker ports: Prometheus only.
    const workers = find(o, 'NetworkPolicy', 'workers-metrics-ingress')!;
    expect(workers.spec.ingress.map((r: { from: unknown[] }) => r.from)).toEqual([[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]]);
  });

  test('checkov finds nothing on the rendered overlays and the Dockerfiles, and does catch a privileged pod', () => {
    const scan = (dir: string, framework: string) => {
      const res = run(join(TOOLS, 'checkov'), ['--config-file', 'infra/k8s/tools/checkov.yaml', '-d', dir, '--framework', framework, '-o', 'json']);
      const results = [JSON.parse(res.stdout)].flat() as { summary: { passed: number; failed: number; parsing_errors: number }; results: { failed_checks: { check_id: string; resource: string }[] } }[];
      const first = results[0]!;
      return { code: res.status, summary: first.summary, failed: first.results.failed_checks.map((c) => `${c.check_id} ${c.resource}`) };
    };
    const k8s = scan(join(work, 'rendered'), 'kubernetes');
    expect(k8s.failed).toEqual([]);
    expect([k8s.code, k8s.summary.parsing_errors]).toEqual([0, 0]);
    expect(k8s.summary.passed).toBeGreaterThan(1000);
    const docker = scan('infra/docker', 'dockerfile');
    expect(docker.failed).toEqual([]);
    expect(docker.code).toBe(0);
    console.log(`deploy-config: checkov kubernetes ${JSON.stringify(k8s.summary)}, dockerfile ${JSON.stringify(docker.summary)}`);

    const bad = join(work, 'bad');
    mkdirSync(bad, { recursive: true });
    const api = structuredClone(find('production', 'Deployment', 'api')!);
    api.spec.template.spec.containers[0].securityContext = { privileged: true };
    writeFileSync(join(bad, 'api.yaml'), stringify(api));
    const caught = scan(bad, 'kubernetes');
    expect(caught.code).toBe(1);
    expect(caught.failed).toEqual(expect.arrayContaining([expect.stringMatching(/^CKV_K8S_16 /)]));
  }, 120_000);
});

describe('docker compose', () => {
  const strong = {
    POSTGRES_USER: 'lifecycle',
    POSTGRES_PASSWORD: 'pg-5d1c0b4a9e8f7a6b',
    MINIO_ROOT_USER: 'lifecycle',
    MINIO_ROOT_PASSWORD: 'minio-3e2d1c0b4a9f8e7d',
    REDIS_PASSWORD: 'redis-9f8e7d6c5b4a3e2d',
    GRAFANA_ADMIN_USER: 'ops',
    GRAFANA_ADMIN_PASSWORD: 'grafana-1a2b3c4d5e6f7a8b',
    MLFLOW_ADMIN_PASSWORD: 'mlflow-admin-8b7a6f5e4d3c',
    MLFLOW_PIPELINE_PASSWORD: 'mlflow-pipe-2c3d4e5f6a7b',
    MLFLOW_INFERENCE_PASSWORD: 'mlflow-inf-6f7a8b9c0d1e',
    MLFLOW_FLASK_SECRET_KEY: 'flask-0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    TEMPORAL_AUTH_PROVIDER_URL: 'https://login.example.com',
    TEMPORAL_AUTH_CLIENT_ID: 'temporal-ui',
    TEMPORAL_AUTH_CLIENT_SECRET: 'oidc-client-secret-value',
    TEMPORAL_AUTH_CALLBACK_URL: 'https://temporal.example.com/auth/sso/callback',
  };
  const credentialVars = Object.keys(strong);
  // The machine's environment must not decide the outcome.
  const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !credentialVars.includes(k)));
  const prod = ['-f', 'docker-compose.yml', '-f', 'docker-compose.prod.yml'];

  test('docker-compose.yml is valid, and scaled services have no container name or host port', () => {
    const res = run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env: cleanEnv() });
    expect(res.stderr).not.toMatch(/ERROR/);
    expect(res.status).toBe(0);
    const services = parse(res.stdout).services as Record<string, { container_name?: string; ports?: unknown[]; image: string }>;
    for (const name of ['inference-worker', 'pipeline-worker', 'training-worker']) {
      expect([name, services[name]?.container_name, services[name]?.ports]).toEqual([name, undefined, undefined]);
    }
    // Supported Temporal images only; every image pinned by an explicit tag.
    expect(Object.values(services).map((s) => s.image).filter((i) => i.includes('auto-setup'))).toEqual([]);
    for (const [name, s] of Object.entries(services)) expect([name, /:[\w.-]+(@sha256:[0-9a-f]{64})?$/.test(s.image) && !s.image.endsWith(':latest')]).toEqual([name, true]);
  });

  test('the production file refuses to start without credentials, naming the variable', () => {
    const res = run('docker-compose', [...prod, 'config', '-q'], { env: cleanEnv() });
    expect(res.status).not.toBe(0);
    expect(out(res)).toMatch(/set [A-Z_]+PASSWORD/);
  });

  test('with credentials it is valid; its check refuses development and short values', () => {
    const res = run('docker-compose', [...prod, 'config'], { env: { ...cleanEnv(), ...strong } });
    expect(res.status).toBe(0);
    const services = parse(res.stdout).services;
    expect(services.mlflow.command).toEqual(['mlflow-start-server']);
    expect(services.postgres.depends_on).toHaveProperty('check-credentials');
    expect(JSON.stringify(services)).not.toContain('lifecycle-dev-password');
    // The check-credentials job's script, run here with sh as the container would.
    const script = (services['check-credentials'].command[0] as string).replaceAll('$$', '$');
    const check = (env: Record<string, string>) => run('sh', ['-c', script], { env: { PATH: process.env.PATH, ...env } });
    const creds = services['check-credentials'].environment as Record<string, string>;
    expect(check(creds).status).toBe(0);
    const dev = check({ ...creds, POSTGRES_PASSWORD: 'lifecycle-dev-password' });
    expect([dev.status, dev.stderr]).toEqual([1, expect.stringContaining('POSTGRES_PASSWORD is a development or well-known value')]);
    const short = check({ ...creds, REDIS_PASSWORD: 'short' });
    expect([short.status, short.stderr]).toEqual([1, expect.stringContaining('REDIS_PASSWORD is shorter than 16 characters')]);
  });
});

describe('Dockerfiles', () => {
  test('hadolint passes on every Dockerfile and fails on a broken one', () => {
    const lint = (files: string[]) => run(join(TOOLS, 'hadolint'), ['--no-color', '--config', 'infra/docker/hadolint.yaml', ...files]);
    const files = ['infra/docker/node.Dockerfile', 'infra/docker/training.Dockerfile', 'infra/docker/mlflow.Dockerfile'];
    const ok = lint(files);
    expect(out(ok).trim()).toBe('');
    expect(ok.status).toBe(0);
    const broken = join(work, 'broken.Dockerfile');
    writeFileSync(broken, 'FROM node\nRUN cd /app && npm ci\nUSER node\n');
    const bad = lint([broken]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/DL3006/);
    expect(bad.stdout).toMatch(/DL3003/);
  });
});
