import type { CliContext } from '../config';

/** The workflow's page in the Temporal web UI (dev server: the gRPC port + 1000). */
export function uiLink(ctx: CliContext, workflowId: string): string {
  const ui = process.env.TEMPORAL_UI_URL ?? `http://${ctx.config.TEMPORAL_ADDRESS.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1000}`)}`;
  return `${ui}/namespaces/${ctx.config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`;
}
