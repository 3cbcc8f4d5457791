import { describe, expect, it } from 'vitest';
import { ControlPlaneEvents } from '../../../src/control-plane/events.js';
import type { NetworkPolicyService } from '../../../src/control-plane/network-policies.js';
import { PlatformDnsView } from '../../../src/dns/views.js';
import { createDecider, type FlowInput } from '../../../src/gateway/decide.js';
import { joinNotes } from '../../../src/gateway/emulator-note.js';
import { createPolicyCache } from '../../../src/gateway/policy-cache.js';
import { compilePlatform } from '../../../src/policy/platform.js';
import type { SandboxNetworkPolicy } from '../../../src/policy/types.js';

/**
 * The note naming a policy's unenforced fields is made when the policy is compiled, kept with the
 * compiled policy (also when a later policy fails to compile), and handed to every flow it decides.
 */
const protocolRule = { name: 'p', protocol: 'http', http: { methods: { denied: ['DELETE'] } } };

/** A policy cache over one sandbox whose effective policy the test sets; counts the loads. */
function cacheFor(initial: SandboxNetworkPolicy) {
  let policy = initial;
  let loads = 0;
  const network = {
    effective: () => {
      loads++;
      return { policy, pinned: new Map<string, number>() };
    },
  } as unknown as NetworkPolicyService;
  const events = new ControlPlaneEvents();
  const cache = createPolicyCache({ network, events });
  return {
    cache,
    loads: () => loads,
    put(next: SandboxNetworkPolicy) {
      policy = next;
      events.emit('network-updated', 'sb');
    },
  };
}

describe('the policy cache keeps the unenforced-fields note with the compiled policy', () => {
  it('makes the note once per compile, not per lookup', () => {
    const { cache, loads } = cacheFor({ mode: 'allow-all', egress: { protocolRules: [protocolRule] } });
    const first = cache.get('sb');
    expect(first?.unenforcedNote).toBe('not enforced by the emulator: protocolRules');
    expect(cache.get('sb')).toBe(first);
    expect(loads()).toBe(1);
    cache.close();
  });

  it('has no note for a policy without unenforced fields, and follows updates', () => {
    const { cache, put } = cacheFor({ mode: 'allow-all' });
    expect(cache.get('sb')?.compiled).toBeDefined();
    expect(cache.get('sb')?.unenforcedNote).toBeUndefined();
    put({ mode: 'allow-all', egress: { protocolRules: [protocolRule] } });
    expect(cache.get('sb')?.unenforcedNote).toBe('not enforced by the emulator: protocolRules');
    put({ mode: 'block-all' });
    expect(cache.get('sb')?.unenforcedNote).toBeUndefined();
    cache.close();
  });

  it('keeps the previous note with the previous compiled policy when an update fails to compile', () => {
    const { cache, put } = cacheFor({ mode: 'allow-all', egress: { protocolRules: [protocolRule] } });
    const before = cache.get('sb')!;
    put({ mode: 'block-all', egress: { protocolRules: [{ ...protocolRule, protocol: 'ftp' }] } });
    const after = cache.get('sb')!;
    expect(after.compileError).toBeDefined();
    expect(after.compiled).toBe(before.compiled);
    expect(after.unenforcedNote).toBe('not enforced by the emulator: protocolRules');
    cache.close();
  });
});

describe('the decider hands the note to the flows it decides', () => {
  const platform = compilePlatform({});
  if (!platform.ok) throw new Error('platform');
  const { cache, put } = cacheFor({ mode: 'allow-all', egress: { protocolRules: [protocolRule] } });
  const decide = createDecider({
    policies: cache,
    platform: () => platform.platform,
    platformDns: () => new PlatformDnsView({}),
    sandboxIps: () => new Set(),
    udpEgress: 'reject',
    host: () => ({ addresses: new Set(), emulatorPorts: new Set() }),
  });
  const flow = (destPort: number): FlowInput => ({ sandboxId: 'sb', destIp: '198.18.0.10', destPort, transport: 'tcp', classification: { kind: 'unknown', reason: 'unclassified' } });

  it('on allowed and denied verdicts alike, and on nothing once the fields are gone', () => {
    expect(decide(flow(443))).toMatchObject({ verdict: 'allow', policyNote: 'not enforced by the emulator: protocolRules' });
    expect(decide.policyNote('sb')).toBe('not enforced by the emulator: protocolRules');
    put({ mode: 'block-all', egress: { protocolRules: [protocolRule] } });
    expect(decide(flow(443))).toMatchObject({ verdict: 'deny', policyNote: 'not enforced by the emulator: protocolRules' });
    put({ mode: 'block-all' });
    expect(decide(flow(443))).not.toHaveProperty('policyNote');
    expect(decide.policyNote('sb')).toBeUndefined();
  });
});

describe('joinNotes', () => {
  it('joins the notes of several reasons with "; " and skips missing ones', () => {
    expect(joinNotes('DNS query for a.example', undefined, 'not enforced by the emulator: protocolRules')).toBe('DNS query for a.example; not enforced by the emulator: protocolRules');
    expect(joinNotes(undefined, 'only')).toBe('only');
    expect(joinNotes(undefined, '')).toBeUndefined();
  });
});
