import { Registry } from 'prom-client';
import { createInferenceMetrics, initVersionSeries } from './inference-metrics';
import { VERSION_METRICS as M } from './version-metric-names';

describe('initVersionSeries', () => {
  it('creates every per-version series of a loaded version at 0, so increase() counts its first examples', async () => {
    const registry = new Registry();
    const metrics = createInferenceMetrics(registry);
    initVersionSeries(metrics, 'clf', '7', ['Bag', 'Trouser']);
    const text = await registry.metrics();
    for (const series of [
      `${M.requests}{model="clf",version="7",outcome="ok"} 0`,
      `${M.requests}{model="clf",version="7",outcome="error"} 0`,
      `${M.predictions}{model="clf",version="7",label="Bag"} 0`,
      `${M.predictions}{model="clf",version="7",label="Trouser"} 0`,
      `${M.agreement}{model="clf",version="7",agree="true"} 0`,
      `${M.agreement}{model="clf",version="7",agree="false"} 0`,
      `${M.inferenceSeconds}_count{model="clf",version="7"} 0`,
      `${M.inferenceSeconds}_bucket{le="+Inf",model="clf",version="7"} 0`,
    ]) {
      expect(text).toContain(series);
    }
  });

  it('leaves counts already there untouched (a version loaded again)', async () => {
    const registry = new Registry();
    const metrics = createInferenceMetrics(registry);
    metrics.versionPredictions.inc({ model: 'clf', version: '7', label: 'Bag' }, 3);
    initVersionSeries(metrics, 'clf', '7', ['Bag']);
    expect(await registry.metrics()).toContain(`${M.predictions}{model="clf",version="7",label="Bag"} 3`);
  });
});
