import { it } from 'vitest';
import { runScenario } from '../../../src/scenario/run.js';
import { renderScenarioText } from '../../../src/scenario/report.js';
it('try', async () => {
  for (const f of (process.env.FILES ?? '').split(',')) {
    const r = await runScenario(f, { throwOnFailure: false });
    console.log(renderScenarioText(r));
    console.log(JSON.stringify(r.steps.map((s) => s.got), null, 1));
  }
}, 60000);
