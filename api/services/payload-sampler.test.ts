import { PayloadSampler } from './payload-sampler';

describe('PayloadSampler', () => {
  const draws = (values: number[]) => {
    let i = 0;
    return () => values[i++ % values.length]!;
  };

  it('samples the configured share of requests by its draw', () => {
    const sampler = new PayloadSampler({ share: 0.1, disabledModels: [], random: draws([0.05, 0.5, 0.099, 0.1]) });
    expect([1, 2, 3, 4].map(() => sampler.sampled('fashion'))).toEqual([true, false, true, false]);
  });

  it('samples every request of a model in a shadow or canary step, whatever the share', () => {
    const sampler = new PayloadSampler({ share: 0, disabledModels: [], inTrafficStep: (m) => m === 'fashion', random: () => 0.99 });
    expect(sampler.sampled('fashion')).toBe(true);
    expect(sampler.sampled('shoes')).toBe(false);
  });

  it('never samples a model whose payload log is switched off, not even in a traffic step', () => {
    const sampler = new PayloadSampler({ share: 1, disabledModels: ['fashion'], inTrafficStep: () => true, random: () => 0 });
    expect(sampler.sampled('fashion')).toBe(false);
    expect(sampler.sampled('shoes')).toBe(true);
  });
});
