import { activitySummary } from './activity-summaries';

describe('activity summaries', () => {
  it('names what each step does from its arguments', () => {
    expect(activitySummary('deployModel', [{ model: { name: 'm', version: '7' }, deploymentId: 'd' }])).toBe('roll m v7 out to the fleet, one worker at a time');
    expect(activitySummary('getChampion', ['m', 'test_accuracy'])).toBe('read the champion of m');
    expect(activitySummary('recordDecision', [{ name: 'm', version: '3' }, { promote: false, forced: true }])).toBe('record the gate on m v3: forced');
  });

  it('never throws on arguments it does not expect', () => {
    expect(activitySummary('trainModel', [])).toBe('train on ?@? (MLflow run ?)');
    expect(activitySummary('somethingNew', [null])).toBe('somethingNew');
  });
});
