import { activitySummary } from './activity-summaries';

describe('activity summaries', () => {
  it('names what each step does from its arguments', () => {
    expect(activitySummary('deployModel', [{ model: { name: 'm', version: '7' }, deploymentId: 'd' }])).toBe('roll m v7 out to the fleet, one worker at a time');
    expect(activitySummary('getChampion', ['m', 'test_accuracy'])).toBe('read the champion of m');
    expect(activitySummary('recordDecision', [{ name: 'm', version: '3' }, { promote: false, forced: true }])).toBe('record the gate on m v3: forced');
  });

  it('names the steps of a progressive rollout', () => {
    expect(activitySummary('setTraffic', [{ model: { name: 'm', version: '7' }, deploymentId: 'd', mode: 'canary', share: 0.1 }])).toBe("canary 10% of m v7's traffic");
    expect(activitySummary('clearTraffic', [{ modelName: 'm', deploymentId: 'd' }])).toBe("take the candidate's traffic away (m)");
    expect(activitySummary('analyzeStep', [{ modelName: 'm', championVersion: '6', candidateVersion: '7', step: { mode: 'shadow', share: 1 } }])).toBe(
      'analyse v7 against champion v6 (shadow 100%)',
    );
    expect(activitySummary('recordRolloutEvidence', [{ model: { name: 'm', version: '7' }, record: { outcome: 'rolled-back' } }])).toBe('record the rollout evidence on m v7: rolled-back');
  });

  it('never throws on arguments it does not expect', () => {
    expect(activitySummary('trainModel', [])).toBe('train on ?@? (MLflow run ?)');
    expect(activitySummary('somethingNew', [null])).toBe('somethingNew');
  });
});
