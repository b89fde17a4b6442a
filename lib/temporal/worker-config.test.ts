import { ConfigError, loadConfig } from '../env';
import { temporalWorkerSchema } from './worker-config';

describe('TEMPORAL_SHUTDOWN_GRACE_MS', () => {
  it('defaults to 25 s, inside the 30 s stop Kubernetes and supervisord give by default', () => {
    expect(loadConfig(temporalWorkerSchema, {}).TEMPORAL_SHUTDOWN_GRACE_MS).toBe(25_000);
    expect(loadConfig(temporalWorkerSchema, { TEMPORAL_SHUTDOWN_GRACE_MS: '320000' }).TEMPORAL_SHUTDOWN_GRACE_MS).toBe(320_000);
  });

  it.each(['-1', '2.5', 'soon', '3600001'])('refuses %s, naming the variable', (value) => {
    expect(() => loadConfig(temporalWorkerSchema, { TEMPORAL_SHUTDOWN_GRACE_MS: value })).toThrow(ConfigError);
    expect(() => loadConfig(temporalWorkerSchema, { TEMPORAL_SHUTDOWN_GRACE_MS: value })).toThrow(/TEMPORAL_SHUTDOWN_GRACE_MS/);
  });
});
