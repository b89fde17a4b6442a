import type { ModelRef } from '../../lib/fleet/protocol';
import type { ModelRegistryClient } from '../../workers/inference/model-loader';

/** Stands in for MLflow: serves registered bytes by artifact URI and resolves aliases. */
export class FakeModelRegistry implements ModelRegistryClient {
  private readonly artifacts = new Map<string, Buffer>();
  private readonly aliases = new Map<string, ModelRef>();
  readonly downloads: string[] = [];

  /** Serves `bytes` at `ref.artifactUri` (which may deliberately not match ref.sha256). */
  add(ref: ModelRef, bytes: Buffer): this {
    this.artifacts.set(ref.artifactUri, bytes);
    return this;
  }

  setAlias(alias: string, ref: ModelRef): this {
    this.aliases.set(`${ref.name}@${alias}`, ref);
    return this;
  }

  resolveModelRef(name: string, alias: string): Promise<ModelRef | null> {
    return Promise.resolve(this.aliases.get(`${name}@${alias}`) ?? null);
  }

  downloadArtifact(artifactUri: string): Promise<Buffer> {
    this.downloads.push(artifactUri);
    const bytes = this.artifacts.get(artifactUri);
    return bytes ? Promise.resolve(bytes) : Promise.reject(new Error(`no artifact at ${artifactUri}`));
  }
}
