import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseScenario, scenarioJsonSchema, ScenarioFileError } from '../../../src/scenario/schema.js';

const root = new URL('../../../', import.meta.url).pathname;
const examplesDir = join(root, 'examples', 'scenarios');
const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));
const allExamples = [...examples, ...readdirSync(join(examplesDir, 'transparent')).map((f) => join('transparent', f))];

describe('scenario schema', () => {
  it('ships the JSON Schema generated from the zod schema (regenerate: node dist/bin/main.js scenario schema > fixtures/scenario.schema.json)', () => {
    const shipped = JSON.parse(readFileSync(join(root, 'fixtures', 'scenario.schema.json'), 'utf8'));
    expect(shipped).toEqual(scenarioJsonSchema());
    const files = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).files as string[];
    expect(files).toContain('fixtures');
  });

  it('has at least eight examples, each valid for the zod schema and for the shipped JSON Schema', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(scenarioJsonSchema());
    for (const f of allExamples) {
      const doc = parseYaml(readFileSync(join(examplesDir, f), 'utf8'));
      expect(() => parseScenario(doc, f)).not.toThrow();
      expect(validate(doc), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('rejects a bad file with every problem and its path', () => {
    const bad = { name: 'x', steps: [{ connect: { port: 443 } }, { wait: { ms: 1 }, dns: { name: 'a' } }, {}], surprise: 1 };
    let err: unknown;
    try {
      parseScenario(bad, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioFileError);
    const message = (err as Error).message;
    expect(message).toContain('bad.yaml is not a valid scenario');
    expect(message).toContain('steps.0.connect: host or ip is required');
    expect(message).toContain('steps.1: a step has exactly one action');
    expect(message).toContain('got dns, wait');
    expect(message).toContain('steps.2: a step has exactly one action');
    expect(message).toMatch(/surprise/);
  });
});
