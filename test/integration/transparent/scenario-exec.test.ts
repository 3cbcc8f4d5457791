import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../src/scenario/run.js';
import { ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';
import { examplesDir } from '../../helpers/scenario-mutations.js';

/** A scenario's `exec` step in a transparent sandbox: an unmodified curl, and the flows it made. */
const skip = transparentUnavailable();

describe.skipIf(skip)('scenario exec steps (transparent)', () => {
  it('run an unmodified program in the sandbox and report its flows', { timeout: 120_000 }, async () => {
    const result = await runScenario(join(examplesDir, 'transparent', 'curl-inside-sandbox.yaml'));
    expect(result.emulator.interception).toBe('transparent');
    expect(result.steps[0]).toMatchObject({ status: 'passed', got: { exitCode: 0, stdout: '200' } });
    expect(result.steps[0]!.flowLines?.join('\n')).toMatch(/tcp 198\.18\.0\.10:443 protocol=tls host=api\.internal\.example\.com action=use-adapter reason=allowed outcome=completed .*route=proxy proxy_target_atyp=domain/);
    // The emulator the run started is gone, and its namespaces with it.
    expect(ourNamespaces()).toEqual([]);
  });
});
