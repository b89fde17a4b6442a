import { createLogger } from '../../lib/logger';
import { FakeSession } from '../../tests/support/fake-session';
import { testMetadata } from '../../tests/support/metadata';
import type { LoadedModel } from './model-loader';
import { ModelRunner } from '../../lib/model/model-runner';
import { ModelSlot } from './model-slot';

const model = (version: string, session = new FakeSession()): LoadedModel => ({
  ref: { name: 'm', version, sha256: 'a'.repeat(64), artifactUri: 'x' },
  metadata: testMetadata(),
  runner: new ModelRunner(session, testMetadata()),
});

describe('ModelSlot', () => {
  it('lets an in-flight batch finish on the old model and releases it afterwards', async () => {
    const slot = new ModelSlot(createLogger('test', 'silent'));
    const oldSession = new FakeSession();
    slot.swap(model('1', oldSession));
    let finish!: () => void;
    const inFlight = slot.use(async (m) => {
      await new Promise<void>((r) => (finish = r));
      return m.ref.version;
    });
    slot.swap(model('2'));
    expect(slot.model?.ref.version).toBe('2');
    expect(oldSession.released).toBe(false);
    finish();
    expect(await inFlight).toBe('1');
    expect(oldSession.released).toBe(true);
  });

  it('releases a replaced idle model at once', () => {
    const slot = new ModelSlot(createLogger('test', 'silent'));
    const oldSession = new FakeSession();
    slot.swap(model('1', oldSession));
    slot.swap(model('2'));
    expect(oldSession.released).toBe(true);
  });

  it('ready() waits for the first model', async () => {
    const slot = new ModelSlot(createLogger('test', 'silent'));
    let ready = false;
    const waiting = slot.ready().then(() => (ready = true));
    await Promise.resolve();
    expect(ready).toBe(false);
    slot.swap(model('1'));
    await waiting;
    expect(ready).toBe(true);
  });
});
