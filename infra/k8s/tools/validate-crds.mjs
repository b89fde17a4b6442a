// Validates KEDA objects (keda.sh, eventing.keda.sh) offline; called by validate-manifests.py.
//   node validate-crds.mjs <node_modules dir>   < JSON array of every rendered object   > {"errors": [...]}
// Validates the KEDA objects among them; the others are the context (scale targets, ConfigMaps).
//
// 1. Schema: the KEDA CRDs' OpenAPI schemas as compiled by npm @kubernetes-models/keda
//    (ScaledObject.validate() etc.).
// 2. Strict fields: a CRD schema accepts unknown fields (the API server prunes them silently), so a
//    typo such as `pollingIntervall` would vanish; every field is checked against the model's
//    declared properties (read from its .d.ts files).
// 3. Scalers: `metadata` is a free map in the CRD; the keys KEDA reads for the scalers used here
//    (redis-streams, redis-cluster-streams, temporal, prometheus; KEDA 2.17+ docs and scaler
//    sources) and their required combinations are checked, as are references to
//    TriggerAuthentications and scale targets in the same render, and a scalingModifiers
//    formula's names against the triggers' names.
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';

const nodeModules = process.argv[2];
const pkg = join(nodeModules, '@kubernetes-models/keda');
const objects = JSON.parse(readFileSync(0, 'utf8'));
const errors = [];
const nameOf = (o) => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;

const MODELS = {
  'keda.sh/v1alpha1': ['ScaledObject', 'ScaledJob', 'TriggerAuthentication', 'ClusterTriggerAuthentication'],
  'eventing.keda.sh/v1alpha1': ['CloudEventSource', 'ClusterCloudEventSource'],
};

// ---------------------------------------------------------------- strict fields from the .d.ts
const interfaces = new Map();
function loadInterfaces(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const src = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const imports = new Map();
  for (const m of src.matchAll(/import \{ (\w+) \} from "(\.[^"]+)\.js";/g)) imports.set(m[1], join(dirname(file), `${m[2]}.d.ts`));
  const decl = /export interface (\w+)(?: extends [^{]+)? \{\n([\s\S]*?)\n\}/.exec(src);
  const fields = new Map();
  if (decl) {
    // Top-level properties only (four spaces of indent), with their type expression.
    for (const m of decl[2].matchAll(/^ {4}"([^"]+)"\??: ([^;]+|\{[\s\S]*?\n {4}\});/gm)) fields.set(m[1], m[2].trim());
  }
  const info = { fields, imports, found: Boolean(decl) };
  interfaces.set(file, info);
  return info;
}
function walk(value, type, ctx, path, name = ctx.name) {
  if (value === null || value === undefined) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, arr[1], ctx, `${path}[${i}]`, name));
    return;
  }
  const file = ctx.imports.get(type);
  if (!file || typeof value !== 'object' || Array.isArray(value)) return; // primitive, free map, apimachinery
  const info = loadInterfaces(file);
  if (!info.found) return;
  for (const [key, v] of Object.entries(value)) {
    if (!info.fields.has(key)) errors.push(`${name}: unknown field ${path}.${key}`);
    else walk(v, info.fields.get(key), info, `${path}.${key}`, name);
  }
}

// ---------------------------------------------------------------- scaler metadata
const INT = /^\d+$/;
// KEDA's redis streams scalers (pkg/scalers/redis_streams_scaler.go, one parser for the single-node,
// cluster and sentinel types): one signal per trigger, chosen by the keys given; `activationLagCount`
// (default 0) is the activation threshold for all three signals (there is no activationStreamLength).
const redisStreams = (connection, ports) => ({
  known: [...connection, ...ports, 'username', 'usernameFromEnv', 'passwordFromEnv', 'stream', 'consumerGroup',
    'pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount', 'databaseIndex', 'enableTLS', 'unsafeSsl'],
  ints: ['pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount', 'databaseIndex'],
  connection,
  check(md, fail) {
    if (!md.stream) fail('`stream` is required');
    if (md.lagCount !== undefined) {
      if (!md.consumerGroup) fail('`lagCount` needs `consumerGroup`');
      if (md.activationLagCount === undefined) fail('`lagCount` needs `activationLagCount` (KEDA before 2.17 refuses the trigger without it)');
      if (md.pendingEntriesCount !== undefined || md.streamLength !== undefined)
        fail('`lagCount` with `pendingEntriesCount`/`streamLength` in one trigger: KEDA uses lagCount only; use one trigger per signal');
    } else if (md.pendingEntriesCount !== undefined && !md.consumerGroup) fail('`pendingEntriesCount` needs `consumerGroup`');
    // With a consumerGroup KEDA reads the group (pending entries or lag), never the stream length.
    if (md.streamLength !== undefined && md.consumerGroup !== undefined) fail('`streamLength` with `consumerGroup`: KEDA then reads the group and ignores streamLength');
  },
});
const SCALERS = {
  'redis-streams': redisStreams(['address', 'addressFromEnv', 'host', 'hostFromEnv'], ['port', 'portFromEnv']),
  // Redis Cluster: seed nodes as `addresses` (host:port,host:port,...) or `hosts` + `ports`, in metadata,
  // the TriggerAuthentication or the target's environment (`...FromEnv`). A cluster has database 0 only.
  'redis-cluster-streams': (() => {
    const rules = redisStreams(['addresses', 'addressesFromEnv', 'hosts', 'hostsFromEnv'], ['ports', 'portsFromEnv']);
    return {
      ...rules,
      check(md, fail) {
        rules.check(md, fail);
        if (md.databaseIndex !== undefined && md.databaseIndex !== '0') fail('`databaseIndex`: a Redis Cluster has database 0 only');
        if (md.addresses !== undefined && !md.addresses.split(',').every((a) => /^[^\s:,]+:\d{1,5}$/.test(a.trim()))) fail(`\`addresses\` must be host:port[,host:port...], got "${md.addresses}"`);
        if ((md.hosts !== undefined || md.hostsFromEnv !== undefined) && md.ports === undefined && md.portsFromEnv === undefined) fail('`hosts` needs `ports`');
      },
    };
  })(),
  temporal: {
    known: ['endpoint', 'endpointFromEnv', 'namespace', 'namespaceFromEnv', 'taskQueue', 'targetQueueSize', 'activationTargetQueueSize',
      'queueTypes', 'buildId', 'selectAllActive', 'selectUnversioned', 'workerDeploymentName', 'workerDeploymentBuildId',
      'apiKeyFromEnv', 'minConnectTimeout', 'unsafeSsl', 'tlsServerName', 'enableTLS'],
    ints: ['targetQueueSize', 'activationTargetQueueSize', 'minConnectTimeout'],
    connection: ['endpoint', 'endpointFromEnv'],
    check(md, fail) {
      if (!md.taskQueue) fail('`taskQueue` is required');
      for (const q of (md.queueTypes ?? 'workflow').split(',')) if (!['workflow', 'activity'].includes(q.trim())) fail(`queueTypes: unknown type "${q}"`);
    },
  },
  prometheus: {
    known: ['serverAddress', 'query', 'threshold', 'activationThreshold', 'namespace', 'customHeaders', 'ignoreNullValues',
      'unsafeSsl', 'queryParameters', 'timeout'],
    ints: [],
    connection: ['serverAddress'],
    check(md, fail) {
      if (!md.query) fail('`query` is required');
      if (md.threshold === undefined || Number.isNaN(Number(md.threshold))) fail('`threshold` (a number) is required');
    },
  },
};
const byKind = (kind) => objects.filter((o) => o.kind === kind);
const authNames = new Set(byKind('TriggerAuthentication').map((o) => o.metadata?.name));
const deployments = new Map(byKind('Deployment').map((o) => [o.metadata?.name, o]));
const configMaps = new Map(byKind('ConfigMap').map((o) => [o.metadata?.name, o]));
const authParams = new Map(byKind('TriggerAuthentication').map((o) => [o.metadata?.name, new Set((o.spec?.secretTargetRef ?? []).map((r) => r.parameter))]));

function envNames(deployment) {
  const names = new Set();
  for (const c of deployment?.spec?.template?.spec?.containers ?? []) {
    for (const e of c.env ?? []) names.add(e.name);
    for (const src of c.envFrom ?? []) {
      const cm = src.configMapRef && configMaps.get(src.configMapRef.name);
      for (const k of Object.keys(cm?.data ?? {})) names.add(`${src.prefix ?? ''}${k}`);
    }
  }
  return names;
}

function checkScaledObject(o) {
  const name = nameOf(o);
  const target = o.spec?.scaleTargetRef?.name;
  const deployment = deployments.get(target);
  if ((o.spec?.scaleTargetRef?.kind ?? 'Deployment') === 'Deployment' && !deployment) errors.push(`${name}: scaleTargetRef names no Deployment in this render: ${target}`);
  const { minReplicaCount: min = 0, maxReplicaCount: max = 100 } = o.spec ?? {};
  if (min > max) errors.push(`${name}: minReplicaCount ${min} > maxReplicaCount ${max}`);
  (o.spec?.triggers ?? []).forEach((t, i) => {
    const fail = (msg) => errors.push(`${name}: triggers[${i}] (${t.type}): ${msg}`);
    const scaler = SCALERS[t.type];
    if (!scaler) return fail('no metadata rules for this scaler type here: add them to validate-crds.mjs');
    const md = t.metadata ?? {};
    for (const k of Object.keys(md)) if (!scaler.known.includes(k)) fail(`unknown metadata key \`${k}\``);
    for (const k of scaler.ints) if (md[k] !== undefined && !INT.test(md[k])) fail(`\`${k}\` must be a whole number, got "${md[k]}"`);
    if (md.password !== undefined) fail('a password in metadata is stored in plain text: use authenticationRef');
    const ref = t.authenticationRef?.name;
    if (ref && !authNames.has(ref)) fail(`authenticationRef names no TriggerAuthentication in this render: ${ref}`);
    const fromAuth = authParams.get(ref) ?? new Set();
    if (!scaler.connection.some((k) => md[k] !== undefined || fromAuth.has(k))) fail(`no connection: one of ${scaler.connection.join(', ')} (metadata or authenticationRef)`);
    for (const k of Object.keys(md).filter((k) => k.endsWith('FromEnv'))) {
      if (deployment && !envNames(deployment).has(md[k])) fail(`\`${k}: ${md[k]}\` is not an environment variable of Deployment ${target}`);
    }
    scaler.check(md, fail);
  });
  // A formula reads the triggers by name: a name it uses that no trigger has would fail in KEDA.
  const formula = o.spec?.advanced?.scalingModifiers?.formula;
  if (formula !== undefined) {
    const names = new Set((o.spec?.triggers ?? []).map((t) => t.name));
    const used = formula.replace(/"[^"]*"/g, '').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
    for (const n of used.filter((u) => !['max', 'min', 'abs', 'true', 'false', 'nil'].includes(u))) {
      if (!names.has(n)) errors.push(`${name}: scalingModifiers.formula uses \`${n}\`, which names no trigger`);
    }
    if (o.spec.advanced.scalingModifiers.target === undefined) errors.push(`${name}: scalingModifiers needs a target`);
  }
}

for (const o of objects.filter((x) => /^(eventing\.)?keda\.sh\//.test(x.apiVersion ?? ''))) {
  const models = MODELS[o.apiVersion];
  if (!models || !models.includes(o.kind)) {
    errors.push(`${nameOf(o)}: unknown KEDA kind ${o.apiVersion} ${o.kind}`);
    continue;
  }
  const dir = o.apiVersion.split('/')[0];
  const file = join(pkg, dir, 'v1alpha1', `${o.kind}.js`);
  const mod = await import(file);
  try {
    new mod[o.kind](o).validate();
  } catch (err) {
    for (const e of err.errors ?? [{ instancePath: '', message: err.message }]) errors.push(`${nameOf(o)}: schema: ${e.instancePath || '(root)'} ${e.message}`);
  }
  const root = loadInterfaces(join(pkg, dir, 'v1alpha1', `${o.kind}.d.ts`));
  const ctx = { name: nameOf(o), imports: new Map([...root.imports]) };
  const known = new Set(['apiVersion', 'kind', 'metadata', ...root.fields.keys()]);
  for (const key of Object.keys(o)) if (!known.has(key)) errors.push(`${ctx.name}: unknown field .${key}`);
  walk(o.spec, root.fields.get('spec') ?? '', { ...root, name: ctx.name }, '.spec');
  if (o.kind === 'ScaledObject') checkScaledObject(o);
}
process.stdout.write(JSON.stringify({ errors }));
process.exit(errors.length ? 1 : 0);
