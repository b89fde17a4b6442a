import { rolloutCriteriaSchema, type RolloutStep } from '../lifecycle/rollout-config';
import { decideStep } from './decide';
import type { LiveMetrics, VersionStats } from './evidence';

const criteria = rolloutCriteriaSchema.parse({});
const step: RolloutStep = { mode: 'canary', share: 0.1, minDurationMs: 60_000, maxDurationMs: 180_000, minSamples: 500 };
const CLASSES = ['a', 'b', 'c', 'd'];

function stats(version: string, requests: number, o: Partial<VersionStats> = {}): VersionStats {
  const predictions = Object.fromEntries(CLASSES.map((c) => [c, requests / CLASSES.length]));
  return { version, requests, errors: 0, p99Seconds: 0.004, latencySamples: requests / 4, predictions, ...o };
}

/** A healthy candidate: 1000 examples each, 97% agreement, same class mix, same latency. */
function healthy(o: { champion?: Partial<VersionStats>; candidate?: Partial<VersionStats>; agree?: number; total?: number; requests?: number } = {}): LiveMetrics {
  const requests = o.requests ?? 1000;
  const total = o.total ?? requests;
  return {
    champion: stats('1', Math.max(requests, 1000), o.champion),
    candidate: stats('2', requests, o.candidate),
    agreement: { agree: o.agree ?? Math.round(total * 0.97), total },
    windowSeconds: 120,
  };
}

const verdict = (e: ReturnType<typeof decideStep>, name: string) => e.criteria.find((c) => c.name === name)?.verdict;

describe('decideStep', () => {
  it('continues when every criterion passes after the minimum duration', () => {
    const e = decideStep(healthy(), step, criteria, 61_000);
    expect(e.decision).toBe('continue');
    // Live accuracy is skipped without feedback: agreement and class distance judge.
    expect(e.criteria.map((c) => c.verdict)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'skipped']);
  });

  it('holds a passing step until its minimum duration', () => {
    const e = decideStep(healthy(), step, criteria, 30_000);
    expect(e.decision).toBe('hold');
    expect(e.reason).toMatch(/minimum duration 60 s not reached/);
  });

  it('holds while the candidate has fewer examples than the minimum, naming the count', () => {
    const e = decideStep(healthy({ requests: 120 }), step, criteria, 90_000);
    expect(e.decision).toBe('hold');
    expect(verdict(e, 'samples')).toBe('short');
    expect(e.reason).toMatch(/samples 120\/500 samples/);
  });

  it('rolls back for lack of evidence once the step is past its maximum duration', () => {
    const e = decideStep(healthy({ requests: 120 }), step, criteria, 180_000);
    expect(e.decision).toBe('rollback');
    expect(e.reason).toMatch(/^not enough evidence after 3m00s/);
  });

  it('rolls back at once when agreement is significantly below the threshold (Wilson upper bound under it)', () => {
    const e = decideStep(healthy({ agree: 300 }), step, criteria, 5_000);
    expect(e.decision).toBe('rollback');
    expect(verdict(e, 'agreement')).toBe('fail');
    expect(e.reason).toMatch(/agreement: 300\/1000 agree/);
  });

  it('holds when agreement is near the threshold and the interval straddles it', () => {
    const e = decideStep(healthy({ agree: 430, total: 500 }), step, criteria, 90_000);
    expect(verdict(e, 'agreement')).toBe('undecided');
    expect(e.decision).toBe('hold');
  });

  it('does not judge agreement on fewer pairs than the minimum', () => {
    const e = decideStep(healthy({ agree: 0, total: 100 }), step, criteria, 90_000);
    expect(verdict(e, 'agreement')).toBe('short');
    expect(e.decision).toBe('hold');
  });

  it('rolls back when the candidate errors significantly more than the champion', () => {
    const e = decideStep(healthy({ candidate: { errors: 80 }, champion: { errors: 2 } }), step, criteria, 90_000);
    expect(verdict(e, 'error-ratio')).toBe('fail');
    expect(e.decision).toBe('rollback');
  });

  it('tolerates an error ratio within the margin', () => {
    const e = decideStep(healthy({ candidate: { errors: 6 }, champion: { errors: 3 } }), step, criteria, 90_000);
    expect(verdict(e, 'error-ratio')).toBe('pass');
  });

  it('rolls back on a p99 over ratio x champion + slack, passes under it', () => {
    const slow = decideStep(healthy({ candidate: { p99Seconds: 0.02 } }), step, criteria, 90_000);
    expect(verdict(slow, 'latency-p99')).toBe('fail');
    expect(slow.decision).toBe('rollback');
    const ok = decideStep(healthy({ candidate: { p99Seconds: 0.0105 } }), step, criteria, 90_000); // 1.5 x 4 ms + 5 ms = 11 ms
    expect(verdict(ok, 'latency-p99')).toBe('pass');
  });

  it('needs enough inference runs before judging p99', () => {
    const e = decideStep(healthy({ candidate: { latencySamples: 10, p99Seconds: 1 } }), step, criteria, 90_000);
    expect(verdict(e, 'latency-p99')).toBe('short');
    expect(e.decision).toBe('hold');
  });

  it('rolls back when the predicted classes are distributed differently', () => {
    const skewed = decideStep(healthy({ candidate: { predictions: { a: 900, b: 100 } } }), step, criteria, 90_000);
    expect(verdict(skewed, 'class-distance')).toBe('fail');
    expect(skewed.decision).toBe('rollback');
    expect(skewed.criteria.find((c) => c.name === 'class-distance')!.value).toBeGreaterThan(0.5);
  });

  it('holds on a large class distance the chi-square test cannot yet tell from chance, rolls back once it can', () => {
    const few = { ...step, minSamples: 20 };
    // JS distance 0.26 > 0.15, but chi2 = 3.6 on 1 df: p = 0.058, not significant at 95%.
    const small = { agree: 20, total: 20, candidate: { requests: 20, predictions: { a: 13, b: 7 } }, champion: { requests: 20, predictions: { a: 7, b: 13 } } };
    const unsure = decideStep(healthy(small), few, criteria, 90_000);
    expect(verdict(unsure, 'class-distance')).toBe('undecided');
    expect(unsure.decision).toBe('hold');
    expect(unsure.criteria.find((c) => c.name === 'class-distance')!.detail).toMatch(/chi2=3\.6 df=1 p=0\.0578/);
    // The same proportions on five times the samples: chi2 = 18, significant.
    const sure = decideStep(healthy({ ...small, agree: 100, total: 100, candidate: { requests: 100, predictions: { a: 65, b: 35 } }, champion: { requests: 100, predictions: { a: 35, b: 65 } } }), few, criteria, 90_000);
    expect(verdict(sure, 'class-distance')).toBe('fail');
  });

  describe('live accuracy from ground-truth feedback', () => {
    const labelled = (candidate: [number, number], champion: [number, number]) => ({
      champion: { correct: champion[0], total: champion[1] },
      candidate: { correct: candidate[0], total: candidate[1] },
    });

    it('is skipped below minFeedback labelled answers on either side, and agreement judges', () => {
      const e = decideStep({ ...healthy({ agree: 300 }), feedback: labelled([190, 199], [150, 400]) }, step, criteria, 90_000);
      expect(verdict(e, 'live-accuracy')).toBe('skipped');
      expect(verdict(e, 'agreement')).toBe('fail');
      expect(e.decision).toBe('rollback');
    });

    it('judges instead of agreement and class distance once both versions have enough labels: a better candidate that disagrees with a wrong champion goes on', () => {
      // The champion is right 40% of the time on drifted traffic, the candidate 90%: they disagree often and predict different classes.
      const m = { ...healthy({ agree: 450, candidate: { predictions: { a: 700, b: 300 } } }), feedback: labelled([270, 300], [120, 300]) };
      const e = decideStep(m, step, criteria, 90_000);
      expect(verdict(e, 'live-accuracy')).toBe('pass');
      expect(verdict(e, 'agreement')).toBe('skipped');
      expect(verdict(e, 'class-distance')).toBe('skipped');
      expect(e.criteria.find((c) => c.name === 'agreement')!.detail).toMatch(/shown only: live accuracy judges/);
      expect(e.decision).toBe('continue');
    });

    it('rolls back a candidate significantly less accurate than the champion, even when it agrees with it often', () => {
      const e = decideStep({ ...healthy(), feedback: labelled([210, 300], [270, 300]) }, step, criteria, 90_000);
      expect(verdict(e, 'live-accuracy')).toBe('fail');
      expect(e.decision).toBe('rollback');
      expect(e.reason).toMatch(/live-accuracy: candidate 210\/300 \(70\.0%\) vs champion 270\/300 \(90\.0%\) correct/);
    });

    it('passes a candidate within the margin', () => {
      const e = decideStep({ ...healthy(), feedback: labelled([266, 300], [270, 300]) }, step, criteria, 90_000);
      expect(verdict(e, 'live-accuracy')).toBe('pass');
    });

    describe('with requireLiveAccuracy (a candidate retrained because the champion drifted)', () => {
      const required = rolloutCriteriaSchema.parse({ requireLiveAccuracy: true });
      // It disagrees with the champion on most of the traffic and predicts other classes: by agreement it would be rolled back.
      const disagreeing = healthy({ agree: 300, candidate: { predictions: { a: 700, b: 300 } } });

      it('waits for labels in a canary step instead of letting agreement with the drifted champion judge, then rolls back only at the maximum duration', () => {
        const e = decideStep({ ...disagreeing, feedback: labelled([90, 99], [30, 400]) }, step, required, 90_000);
        expect(verdict(e, 'live-accuracy')).toBe('short');
        expect(verdict(e, 'agreement')).toBe('skipped');
        expect(verdict(e, 'class-distance')).toBe('skipped');
        expect(e.decision).toBe('hold');
        expect(decideStep({ ...disagreeing, feedback: labelled([90, 99], [30, 400]) }, step, required, 180_000).decision).toBe('rollback');
      });

      it('promotes on live accuracy once there are enough labels', () => {
        const e = decideStep({ ...disagreeing, feedback: labelled([250, 300], [90, 300]) }, step, required, 90_000);
        expect(verdict(e, 'live-accuracy')).toBe('pass');
        expect(e.criteria.find((c) => c.name === 'agreement')!.detail).toMatch(/shown only: requireLiveAccuracy/);
        expect(e.decision).toBe('continue');
      });

      it('judges a shadow step by errors and latency only: nobody sees (or labels) a shadow answer', () => {
        const e = decideStep(disagreeing, { ...step, mode: 'shadow' }, required, 90_000);
        expect(verdict(e, 'live-accuracy')).toBe('skipped');
        expect(verdict(e, 'agreement')).toBe('skipped');
        expect(e.decision).toBe('continue');
      });
    });
  });

  it('a failure wins over a short criterion: no waiting for more samples of a model already shown bad', () => {
    const e = decideStep(healthy({ agree: 100, total: 600, candidate: { latencySamples: 3 } }), step, criteria, 1_000);
    expect(e.decision).toBe('rollback');
  });

  it('keeps every number it decided on', () => {
    const m = healthy();
    const e = decideStep(m, step, criteria, 61_000);
    expect(e.metrics).toEqual(m);
    expect(e.elapsedMs).toBe(61_000);
    for (const c of e.criteria) expect(c.detail.length).toBeGreaterThan(10);
  });
});
