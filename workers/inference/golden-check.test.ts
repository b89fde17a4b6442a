import { FakeSession } from '../../tests/support/fake-session';
import { testMetadata } from '../../tests/support/metadata';
import { runGoldenCheck } from './golden-check';
import { ModelRunner } from '../../lib/model/model-runner';

// FakeSession predicts class round(first value) with logit 5 against 0 for the 9 others.
const topProbability = Math.exp(5) / (Math.exp(5) + 9);
// A first pixel of 255 normalises to (1 - 0.286) / 0.353 = 2.02 -> class 2 (Pullover); 0 -> -0.81 -> class 1 (Trouser).
const inputs = [[255, ...new Array<number>(783).fill(0)], new Array<number>(784).fill(0)];

describe('runGoldenCheck', () => {
  it('passes when labels and probabilities match the recorded ones', async () => {
    const metadata = testMetadata({ golden: { inputs, expected_labels: ['Pullover', 'Trouser'], expected_probabilities: [topProbability, topProbability] } });
    expect(await runGoldenCheck(new ModelRunner(new FakeSession(), metadata), metadata)).toBe(2);
  });

  it('fails on a different top-1 label', async () => {
    const metadata = testMetadata({ golden: { inputs, expected_labels: ['Pullover', 'Bag'], expected_probabilities: [topProbability, topProbability] } });
    await expect(runGoldenCheck(new ModelRunner(new FakeSession(), metadata), metadata)).rejects.toMatchObject({ code: 'GOLDEN_CHECK_FAILED' });
  });

  it('fails when a probability is off by more than the tolerance', async () => {
    const metadata = testMetadata({ golden: { inputs, expected_labels: ['Pullover', 'Trouser'], expected_probabilities: [topProbability, topProbability - 0.01] } });
    await expect(runGoldenCheck(new ModelRunner(new FakeSession(), metadata), metadata)).rejects.toThrow(/probability/);
  });

  it('is a no-op without a golden set', async () => {
    expect(await runGoldenCheck(new ModelRunner(new FakeSession(), testMetadata()), testMetadata())).toBe(0);
  });
});
