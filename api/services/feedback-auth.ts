import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../lib/env';
import { HttpError } from '../errors';

/** The role that may post feedback (feedback becomes training data: a privileged write). */
export const LABELLER_ROLE = 'labeller';

export const credentialSchema = z.object({
  name: z.string().regex(/^[\w.@-]{1,64}$/, 'a credential name is 1-64 letters, digits, or . _ @ -'),
  role: z.string().regex(/^[a-z][a-z-]{0,31}$/, 'a role is lower-case letters and -'),
  token: z.string().min(16, 'a token has at least 16 characters').regex(/^[^\s:,]+$/, 'a token has no spaces, colons or commas'),
});
export type Credential = z.infer<typeof credentialSchema>;

/** Parses `name:role:token` entries separated by commas or newlines; `source` names the variable in errors. */
export function parseCredentials(text: string, source: string): Credential[] {
  const entries = text.split(/[,\n]/).map((e) => e.trim()).filter((e) => e && !e.startsWith('#'));
  const credentials = entries.map((entry, i) => {
    const [name = '', role = '', token = '', ...rest] = entry.split(':');
    const parsed = credentialSchema.safeParse({ name, role, token });
    if (rest.length > 0 || !parsed.success) {
      const why = rest.length > 0 ? 'expected name:role:token' : parsed.error!.issues.map((x) => x.message).join('; ');
      throw new ConfigError(`Invalid configuration:\n  ${source}: entry ${i + 1} (${name || '?'}): ${why}`);
    }
    return parsed.data;
  });
  const names = new Set<string>();
  for (const c of credentials) {
    if (names.has(c.name)) throw new ConfigError(`Invalid configuration:\n  ${source}: credential name ${c.name} appears twice`);
    names.add(c.name);
  }
  return credentials;
}

/** The credentials of FEEDBACK_TOKENS and FEEDBACK_TOKENS_FILE together (read once, at start-up). */
export function loadCredentials(config: { FEEDBACK_TOKENS: string; FEEDBACK_TOKENS_FILE: string }): Credential[] {
  let fromFile: Credential[] = [];
  if (config.FEEDBACK_TOKENS_FILE) {
    let text: string;
    try {
      text = readFileSync(config.FEEDBACK_TOKENS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  FEEDBACK_TOKENS_FILE: cannot read ${config.FEEDBACK_TOKENS_FILE}: ${(err as Error).message}`);
    }
    fromFile = parseCredentials(text, 'FEEDBACK_TOKENS_FILE');
  }
  return [...parseCredentials(config.FEEDBACK_TOKENS, 'FEEDBACK_TOKENS'), ...fromFile];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests with
 * timingSafeEqual against every configured credential (no early exit), so the
 * time taken says nothing about how much of a token matched or which one did.
 */
export class FeedbackAuth {
  private readonly known: Array<{ credential: Credential; digest: Buffer }>;

  constructor(credentials: Credential[]) {
    this.known = credentials.map((credential) => ({ credential, digest: digest(credential.token) }));
  }

  /** The credential behind an Authorization header: 401 without a known bearer token, 403 without `role`. */
  authorize(header: string | undefined, role = LABELLER_ROLE): Credential {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) throw new HttpError(401, 'UNAUTHORIZED', 'Send a feedback credential: Authorization: Bearer <token>');
    const presented = digest(match[1]!);
    let found: Credential | null = null;
    for (const k of this.known) if (timingSafeEqual(k.digest, presented) && !found) found = k.credential;
    if (!found) throw new HttpError(401, 'UNAUTHORIZED', 'Unknown feedback credential');
    if (found.role !== role) throw new HttpError(403, 'FORBIDDEN', `Credential ${found.name} has role ${found.role}; posting feedback needs role ${role}`);
    return found;
  }
}
