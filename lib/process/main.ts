import { ConfigError } from '../env';
import { createLogger, type Logger } from '../logger';

/**
 * Runs a process's `main`. A configuration error is printed as the plain
 * message that names the bad variables; anything else is a fatal log line.
 * Either way the process exits 1, so a supervisor sees the failed start.
 */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${name}: ${err.message}\n`);
    else createLogger(name).fatal({ err }, `${name} failed to start`);
    process.exit(1);
  });
}

export interface ShutdownOptions {
  /** Drains in-flight work; the process exits 0 when it resolves. */
  drain: () => Promise<void>;
  /** Exit 1 if draining takes longer than this. */
  timeoutMs?: number;
  /** What a second signal does before exiting 1 (an impatient operator). */
  abort?: () => Promise<void>;
}

/** On SIGTERM/SIGINT: drain gracefully; on a second signal, or after the timeout, stop at once. */
export function exitOnSignal(logger: Logger, opts: ShutdownOptions): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: stopping now');
      void (opts.abort?.() ?? Promise.resolve()).finally(() => process.exit(1));
      return;
    }
    logger.info({ signal }, 'shutting down gracefully');
    if (opts.timeoutMs !== undefined) {
      setTimeout(() => {
        logger.error({ timeoutMs: opts.timeoutMs }, 'in-flight work did not finish in time; exiting');
        process.exit(1);
      }, opts.timeoutMs).unref();
    }
    opts.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
