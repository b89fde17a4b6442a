import { stopAllLoads } from '../support/load';

// Integration tests start real processes (trainer, DVC, model loads): allow minutes, not jest's 5 s default.
jest.setTimeout(300_000);

// A test that failed or timed out before stopping its load must not leave it running into the next file.
afterAll(async () => {
  const stopped = await stopAllLoads();
  if (stopped > 0) console.warn(`stopped ${stopped} load(s) a test left running`);
});
