import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runScenario, ScenarioFailedError } from '../../../src/index.js';
import { renderScenarioText } from '../../../src/scenario/report.js';
import { repoRoot } from '../../helpers/bin.js';
import { examplesDir, exampleFiles, loadExample, mutations } from '../../helpers/scenario-mutations.js';

/**
 * Every example scenario passes through the library (`await runScenario(file)`, one line), and every
 * step's expectation, made wrong, fails with a report that names the step and the difference.
 */
describe('examples/scenarios through runScenario', () => {
  it('has at least eight examples', () => {
    expect(exampleFiles.length).toBeGreaterThanOrEqual(8);
  });

  it.each(exampleFiles)('%s passes', { timeout: 60_000 }, async (file) => {
    const result = await runScenario(join(examplesDir, file));
    expect(result.passed).toBe(true);
    expect(result.steps.every((s) => s.status === 'passed')).toBe(true);
  });

  it.each(exampleFiles)('%s fails at the right step when an expectation is wrong', { timeout: 180_000 }, async (file) => {
    const all = mutations(loadExample(file));
    expect(all.length).toBeGreaterThan(0);
    for (const m of all) {
      const result = await runScenario(m.doc, { throwOnFailure: false });
      expect(result.passed, `${file} step ${m.step} ${m.path}`).toBe(false);
      const failed = result.steps.filter((s) => s.status === 'failed');
      expect(failed.map((s) => s.index)).toEqual([m.step]);
      expect(failed[0]!.differences.map((d) => d.path)).toEqual([m.path]);
      const text = renderScenarioText(result);
      expect(text).toContain(`FAIL step ${m.step} "${m.stepName}"`);
      expect(text).toMatch(new RegExp(`expected ${m.path.replace(/\./g, '\\.')}( containing)?: `));
      expect(text).toContain(`got      ${m.path}: `);
      expect(text).toContain(`failed: step ${m.step} "${m.stepName}"`);
    }
  });

  it('rejects with the readable report by default, for a one-line vitest test', { timeout: 60_000 }, async () => {
    const [m] = mutations(loadExample('docs-happy-path.yaml'));
    const err = await runScenario(m!.doc).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioFailedError);
    expect((err as Error).message).toContain(`FAIL step ${m!.step} "${m!.stepName}"`);
    expect((err as ScenarioFailedError).result.passed).toBe(false);
  });
});

describe('the README scenario', () => {
  it('is a valid scenario that passes as written', { timeout: 60_000 }, async () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('Scenarios\n'))!;
    const block = /```yaml\n([^]*?)```/.exec(section)![1]!;
    const result = await runScenario(parse(block) as Record<string, unknown>);
    expect(result.steps.map((s) => s.status)).toEqual(['passed', 'passed']);
  });
});

describe('a refused setup', () => {
  it('fails before the steps, naming the part of the file and the API message', { timeout: 60_000 }, async () => {
    const doc = loadExample('docs-happy-path.yaml');
    doc.platform.sandboxes[0].network.egress.proxy.type = 'http';
    const result = await runScenario(doc, { throwOnFailure: false });
    expect(result.passed).toBe(false);
    expect(result.steps).toEqual([]);
    expect(result.setupError).toMatch(/^platform\.sandboxes "app" network: sandbox0 API error \(400\)/);
    expect(renderScenarioText(result)).toContain('SETUP FAILED: platform.sandboxes "app" network:');
  });
});
