import pino, { type Logger } from 'pino';

/** One JSON line per event; secrets never reach the log. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['*.password', '*.token', '*.secret', 'req.headers.authorization', 'req.headers.cookie', 'config.REDIS_URL'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
