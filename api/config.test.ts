import { ConfigError } from '../lib/env';
import { loadApiConfig } from './config';

const refused = (env: NodeJS.ProcessEnv): string => {
  try {
    loadApiConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('API configuration', () => {
  it('accepts the defaults', () => {
    expect(loadApiConfig({})).toMatchObject({ PORT: 8000, REQUEST_TIMEOUT_MS: 10_000, DECODE_IN: 'auto', DECODE_IN_WORKER_MAX_BYTES: 65_536, MAX_BATCH_FILES: 32 });
  });

  it('refuses a graceful-stop timeout shorter than the request deadline, naming both', () => {
    expect(refused({ SHUTDOWN_TIMEOUT_MS: '5000' })).toMatch(/SHUTDOWN_TIMEOUT_MS: SHUTDOWN_TIMEOUT_MS \(5000 ms\) must be at least REQUEST_TIMEOUT_MS \(10000 ms\)/);
  });

  it('refuses a batch upload larger than the queue can ever hold', () => {
    expect(refused({ MAX_BATCH_FILES: '64', MAX_QUEUE_LENGTH: '10' })).toMatch(/MAX_BATCH_FILES: .*MAX_QUEUE_LENGTH/);
  });

  it('names an unknown decode placement', () => {
    expect(refused({ DECODE_IN: 'gpu' })).toMatch(/DECODE_IN: .*\(got "gpu"\)/);
  });
});
