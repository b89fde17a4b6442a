import type { ModelRef } from '../../lib/fleet/protocol';
import type { ModelRegistryClient } from '../../workers/inference/model-loader';

/** Stands in for MLflow: serves registered bytes by artifact URI and resolves aliases. */
export class FakeModelRegistry implements ModelRegistryClient {
  private readonly artifacts = new Map<string, Buffer>();
  private readonly aliases = new Map<string, ModelRef>();
  private readonly versions = new Map<string, ModelRef>();
  private readonly tags = new Map<string, string>();
  readonly downloads: string[] = [];
  private downloadsFail = false;

  /** Serves `bytes` at `ref.artifactUri` (which may deliberately not match ref.sha256). */
  add(ref: ModelRef, bytes: Buffer): this {
    this.artifacts.set(ref.artifactUri, bytes);
    this.versions.set(`${ref.name}/${ref.version}`, ref);
    return this;
  }

  setAlias(alias: string, ref: ModelRef): this {
    this.aliases.set(`${ref.name}@${alias}`, ref);
    return this;
  }

  /** Removes `alias` from model `name` (no champion: nothing should be served). */
  deleteAlias(alias: string, name: string): this {
    this.aliases.delete(`${name}@${alias}`);
    return this;
  }

  /** Sets (or with null removes) a registered-model tag, as MLflow's registered-models/set-tag and delete-tag do. */
  setModelTag(name: string, key: string, value: string | null): this {
    if (value === null) this.tags.delete(`${name}/${key}`);
    else this.tags.set(`${name}/${key}`, value);
    return this;
  }

  registeredModelTag(name: string, key: string): Promise<string | null> {
    return Promise.resolve(this.tags.get(`${name}/${key}`) ?? null);
  }

  resolveVersionRef(name: string, version: string): Promise<ModelRef | null> {
    return Promise.resolve(this.versions.get(`${name}/${version}`) ?? null);
  }

  resolveModelRef(name: string, alias: string): Promise<ModelRef | null> {
    return Promise.resolve(this.aliases.get(`${name}@${alias}`) ?? null);
  }

  modelsWithAlias(alias: string): Promise<string[]> {
    return Promise.resolve([...this.aliases.keys()].filter((k) => k.endsWith(`@${alias}`)).map((k) => k.slice(0, -alias.length - 1)));
  }

  /** Makes downloads fail (a registry outage) until called with false. */
  failDownloads(fail = true): this {
    this.downloadsFail = fail;
    return this;
  }

  downloadArtifact(artifactUri: string): Promise<Buffer> {
    if (this.downloadsFail) return Promise.reject(new Error('registry unavailable'));
    this.downloads.push(artifactUri);
    const bytes = this.artifacts.get(artifactUri);
    return bytes ? Promise.resolve(bytes) : Promise.reject(new Error(`no artifact at ${artifactUri}`));
  }
}
