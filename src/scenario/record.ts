import { isIP } from 'node:net';
import type { NetworkAuditEvent } from '../gateway/audit.js';
import type { CredentialSourceSpec } from '../store/credential-sources.js';
import type { FaultDefinition } from '../test-proxy/faults/fault.js';
import type { TestProxyUser } from '../test-proxy/proxy.js';
import { scenarioVersion, type Expectation, type ScenarioInput } from './schema.js';

/**
 * `scenario record`: a running emulator's state and the flows it saw so far, as a scenario (pure:
 * a snapshot in, a scenario document out). Secrets become `${secret:NAME}` placeholders; equal
 * secrets share a NAME, so a replay keeps "the source's password is (not) the proxy's" as it was.
 * Addresses that change between runs (the test proxy, the customer services) become symbols.
 */

export interface RecordSnapshot {
  sandboxes: { id: string; template: string; network?: Record<string, unknown>; hosts: Record<string, string[]> }[];
  credentialSources: { name: string; resolverKind: string; spec: CredentialSourceSpec }[];
  platformDns: { current: Record<string, string[]>; defaults: Record<string, string[]> };
  testProxyAddress?: string;
  proxy?: {
    users: readonly TestProxyUser[];
    faults: readonly FaultDefinition[];
    customerDns: { current: Record<string, string>; defaults: Record<string, string> };
    /** `@internal-api` / `@identify` → their current `host:port`. */
    services: Record<string, string>;
  };
  /** Result audit events, oldest first. */
  flows: readonly NetworkAuditEvent[];
  interception: string;
}

export interface RecordOptions {
  name?: string;
  /** Put the test proxy users' passwords (and equal credential-source secrets) in clear. */
  includeSecrets?: boolean;
}

class SecretNames {
  private byValue = new Map<string, string>();
  private used = new Set<string>();
  constructor(private readonly clear: Set<string>) {}
  placeholder(value: string, suggested: string): string {
    if (this.clear.has(value)) return value;
    let name = this.byValue.get(value);
    if (!name) {
      name = suggested.replace(/[^A-Za-z0-9_.-]/g, '-');
      for (let i = 2; this.used.has(name); i++) name = `${suggested}-${i}`;
      this.used.add(name);
      this.byValue.set(value, name);
    }
    return `\${secret:${name}}`;
  }
}

function sealSpec(source: string, spec: CredentialSourceSpec, names: SecretNames): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (spec.staticUsernamePassword) {
    const { username, password } = spec.staticUsernamePassword;
    out.staticUsernamePassword = { username, ...(password !== undefined ? { password: names.placeholder(password, `${source}-password`) } : {}) };
  }
  if (spec.staticHeaders) {
    out.staticHeaders = { values: Object.fromEntries(Object.entries(spec.staticHeaders.values ?? {}).map(([k, v]) => [k, names.placeholder(v, `${source}-${k}`)])) };
  }
  if (spec.staticTLSClientCertificate) {
    const c = spec.staticTLSClientCertificate;
    out.staticTLSClientCertificate = {
      ...(c.certificatePem ? { certificatePem: c.certificatePem } : {}),
      ...(c.caPem ? { caPem: c.caPem } : {}),
      ...(c.privateKeyPem ? { privateKeyPem: names.placeholder(c.privateKeyPem, `${source}-private-key`) } : {}),
    };
  }
  if (spec.staticSSHPrivateKey) {
    const k = spec.staticSSHPrivateKey;
    out.staticSSHPrivateKey = {
      ...(k.privateKeyPem ? { privateKeyPem: names.placeholder(k.privateKeyPem, `${source}-private-key`) } : {}),
      ...(k.passphrase ? { passphrase: names.placeholder(k.passphrase, `${source}-passphrase`) } : {}),
    };
  }
  return out;
}

const changed = <V>(current: Record<string, V>, defaults: Record<string, V>) =>
  Object.fromEntries(Object.entries(current).filter(([k, v]) => JSON.stringify(defaults[k]) !== JSON.stringify(v)));

type StepDoc = NonNullable<ScenarioInput['steps']>[number];

/** A recorded flow as a step that makes the same flow, with what happened as its expectation. */
export function flowStep(e: NetworkAuditEvent, sandboxName: string, proxied: boolean): StepDoc | undefined {
  const a = e.attributes;
  const unresolved = a.reason === 'sandbox_resolution_failed';
  const host = a.host && !isIP(a.host) ? a.host : undefined;
  const target = { ...(host ? { host } : {}), ...(unresolved ? {} : { ip: a.dest_ip }), port: a.dest_port };
  if (!target.host && !('ip' in target)) return undefined;
  const expect: Expectation = {};
  if (unresolved) {
    Object.assign(expect, { flowStarts: false, reason: a.reason });
  } else {
    expect.decision = a.action === 'deny' ? 'deny' : 'allow';
    expect.action = a.action;
    expect.reason = a.reason;
    if (a.route) expect.route = a.route;
    if (a.outcome !== 'accepted') expect.outcome = a.outcome === 'denied' && a.reason.endsWith('_not_proxied') ? 'rejected' : a.outcome;
    if (a.error_step) expect.errorStep = a.error_step;
    if (a.route === 'proxy' && a.proxy_target_atyp) expect.proxyTarget = { atyp: a.proxy_target_atyp };
    if (proxied && a.action === 'deny') expect.proxy = { reached: false };
    else if (a.proxy_reply_code !== undefined) expect.proxy = { replyCode: a.proxy_reply_code };
  }
  const name = `${a.protocol ?? a.transport} ${host ?? a.dest_ip}:${a.dest_port} (recorded flow ${a.flow_id})`;
  if (a.transport === 'udp') {
    // Only a QUIC Initial (a UDP flow with an SNI) can be made again as a step.
    if (!host) return undefined;
    return { name, sandbox: sandboxName, quic: target, expect };
  }
  const send = a.protocol === 'http' ? 'http' : a.protocol === 'tls' ? 'tls' : 'raw';
  return { name, sandbox: sandboxName, connect: { ...target, send }, expect };
}

export function buildRecordedScenario(s: RecordSnapshot, { name = 'Recorded scenario', includeSecrets = false }: RecordOptions = {}): ScenarioInput {
  const clear = new Set(includeSecrets ? (s.proxy?.users ?? []).map((u) => u.password) : []);
  const names = new SecretNames(clear);
  // Proxy users first, so a source holding a proxy user's password is named after the user.
  const users = s.proxy?.users.map((u) => ({ username: u.username, password: names.placeholder(u.password, `${u.username}-password`) }));
  const credentialSources = s.credentialSources.map((c) => ({ name: c.name, resolverKind: c.resolverKind, spec: sealSpec(c.name, c.spec, names) }));

  const platformDns = changed(s.platformDns.current, s.platformDns.defaults);
  for (const [k, v] of Object.entries(platformDns)) platformDns[k] = v.map((x) => (x === s.testProxyAddress ? '@test-proxy' : x));
  const bySymbol = new Map(Object.entries(s.proxy?.services ?? {}).map(([symbol, address]) => [address, symbol]));
  const customerDns = s.proxy ? changed(s.proxy.customerDns.current, s.proxy.customerDns.defaults) : {};
  for (const [k, v] of Object.entries(customerDns)) customerDns[k] = bySymbol.get(v) ?? v;

  const sandboxNames = new Map(s.sandboxes.map((sb) => [sb.id, sb.id]));
  const steps = s.flows.flatMap((e) => {
    const sandbox = sandboxNames.get(e.sandbox_id);
    const step = sandbox ? flowStep(e, sandbox, s.proxy !== undefined) : undefined;
    return step ? [step] : [];
  });
  const skipped = s.flows.filter((e) => sandboxNames.has(e.sandbox_id)).length - steps.length;

  return {
    version: scenarioVersion,
    name,
    description:
      `Recorded from a running emulator (${s.interception} interception): its state and ${steps.length} flow(s) as steps, each expecting what happened.` +
      (skipped ? ` ${skipped} flow(s) that a step cannot make again (UDP other than QUIC, flows without a destination) were left out.` : '') +
      ' Secrets are ${secret:NAME} placeholders: equal secrets share a NAME; set SEE_SECRET_<NAME> to use a real value.',
    ...(s.interception === 'transparent' ? { emulator: { interception: 'transparent' as const } } : {}),
    platform: {
      ...(Object.keys(platformDns).length ? { dns: platformDns } : {}),
      ...(credentialSources.length ? { credentialSources } : {}),
      ...(s.sandboxes.length
        ? {
            sandboxes: s.sandboxes.map((sb) => ({
              name: sb.id,
              template: sb.template,
              ...(Object.keys(sb.hosts).length ? { hosts: sb.hosts } : {}),
              ...(sb.network ? { network: sb.network } : {}),
            })),
          }
        : {}),
    },
    ...(s.proxy
      ? {
          customer: {
            proxy: { ...(users?.length ? { users } : {}), ...(s.proxy.faults.length ? { faults: s.proxy.faults.map((f) => ({ ...f })) } : {}) },
            ...(Object.keys(customerDns).length ? { dns: customerDns } : {}),
          },
        }
      : {}),
    steps: steps.length ? steps : [{ name: 'no flows were recorded', wait: { ms: 0 } }],
  };
}
