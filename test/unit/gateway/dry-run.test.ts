import { describe, expect, it } from 'vitest';
import type { Decider } from '../../../src/gateway/decide.js';
import { dryRun } from '../../../src/gateway/dry-run.js';
import { renderEvaluation } from '../../../src/cli/commands/evaluate.js';

/** A flow to a name the sandbox cannot resolve never starts, so the gateway is never asked. */
const neverAsked = (() => {
  throw new Error('the gateway decided a flow that never starts');
}) as unknown as Decider;

describe('dry run of a name the sandbox cannot resolve', () => {
  const result = dryRun(neverAsked, 'sb-1', () => undefined, { host: 'db.corp.example.com', port: 5432 });

  it('still has the action PRODUCT.md promises: deny, as nothing leaves the sandbox', () => {
    expect(result).toEqual({
      flowStarts: false,
      action: 'deny',
      reason: 'sandbox_resolution_failed',
      host: 'db.corp.example.com',
      explanation: expect.stringMatching(/^db\.corp\.example\.com does not resolve inside the sandbox.*no policy decision is made/),
    });
  });

  it('reads as a deny with no flow in the CLI, with the reason and the host', () => {
    const text = renderEvaluation(result as unknown as Record<string, unknown>);
    expect(text).toMatch(/^Decision: +deny \(no flow starts\)$/m);
    expect(text).toMatch(/^Reason: +sandbox_resolution_failed$/m);
    expect(text).toMatch(/^Host: +db\.corp\.example\.com \(does not resolve in the sandbox\)$/m);
    expect(text).toMatch(/^Why: +db\.corp\.example\.com does not resolve inside the sandbox/m);
  });
});
