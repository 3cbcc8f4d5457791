import { z } from 'zod';

/**
 * The scenario file (YAML): a customer's setup — the platform side (credential sources, sandboxes with
 * their network policy and hosts entries, platform DNS records) and the customer side (proxy users,
 * faults, customer DNS) — then steps with expectations. `scenarioJsonSchema()` is what editors and
 * `GET /_emulator/scenario.schema.json` get; `fixtures/scenario.schema.json` is the same, shipped.
 */

export const scenarioVersion = 1;

/** A secret placeholder: `${secret:NAME}`; each NAME gets one value per run (env SEE_SECRET_<NAME>, else random). */
export const secretPlaceholderPattern = /\$\{secret:([A-Za-z0-9_.-]+)\}/g;

/** Symbolic addresses in DNS views: the embedded test proxy and the customer services behind it. */
export const serviceSymbols = ['@test-proxy', '@internal-api', '@identify'] as const;
export type ServiceSymbol = (typeof serviceSymbols)[number];

const name = z.string().min(1).max(253);
const port = z.number().int().min(1).max(65535);
const ip = z.string().regex(/^[0-9a-fA-F.:]+$/, 'must be an IP address');
const contains = z.object({ contains: z.string().describe('a substring the text must contain') }).strict();

const credentialSource = z
  .object({
    name: z.string().min(1),
    resolverKind: z.string().min(1).describe('static_username_password for the SOCKS5 proxy'),
    spec: z.record(z.string(), z.unknown()).describe('as the Sandbox0 API takes it, e.g. {staticUsernamePassword: {username, password}}'),
  })
  .strict();

const sandbox = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a sandbox name is 1-63 of A-Z a-z 0-9 . _ - (starting with a letter or digit)').describe('how steps refer to this sandbox'),
    template: z.string().min(1).default('default'),
    network: z.record(z.string(), z.unknown()).optional().describe('the SandboxNetworkPolicy PUT to /api/v1/sandboxes/{id}/network'),
    hosts: z.record(name, z.array(ip).min(1)).optional().describe('sandbox-side hosts entries (name → addresses)'),
  })
  .strict();

const proxyUser = z.object({ username: z.string().min(1).max(255), password: z.string().min(1).max(255) }).strict();
const fault = z
  .object({
    name: z.string().optional(),
    type: z.string().min(1),
    toxicity: z.number().min(0).max(1).optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    match: z.object({ user: z.string().optional(), host: z.string().optional(), port: z.number().int().optional() }).strict().optional(),
  })
  .strict()
  .describe('a test proxy fault, as POST /_emulator/proxy/faults takes it');

const platform = z
  .object({
    dns: z.record(z.string(), z.array(z.string()).min(1)).optional().describe('platform DNS records set on top of the default view (name or name:port → addresses; @test-proxy is the test proxy)'),
    credentialSources: z.array(credentialSource).optional(),
    sandboxes: z.array(sandbox).min(1).optional(),
  })
  .strict();

const customer = z
  .object({
    proxy: z
      .object({
        users: z.array(proxyUser).min(1).optional().describe('replaces the test proxy users'),
        faults: z.array(fault).optional(),
      })
      .strict()
      .optional(),
    dns: z.record(z.string(), z.string()).optional().describe('customer DNS records set on top of the default view (name[:port] → host:port, or @internal-api / @identify)'),
  })
  .strict();

/** What a step may check; every field is optional and only the given ones are compared. */
export const expectationSchema = z
  .object({
    decision: z.enum(['allow', 'deny']).optional().describe('the policy verdict'),
    action: z.enum(['deny', 'pass-through', 'use-adapter']).optional(),
    reason: z.string().optional().describe('reason code, e.g. allowed, l4_denied, quic_not_proxied, sandbox_resolution_failed'),
    matchedRule: z.string().optional(),
    route: z.enum(['direct', 'proxy']).optional(),
    flowStarts: z.boolean().optional().describe('false when the sandbox cannot resolve the name'),
    outcome: z.enum(['completed', 'denied', 'rejected', 'error']).optional().describe('what became of a real flow'),
    errorStep: z.string().optional().describe('which step failed: proxy_auth, proxy_connect_reply, relay, sandbox_resolution, ...'),
    proxyTarget: z.object({ atyp: z.enum(['domain', 'ipv4', 'ipv6']).optional(), host: z.string().optional(), port: port.optional() }).strict().optional().describe('the CONNECT target the gateway sends'),
    proxy: z
      .object({
        reached: z.boolean().optional().describe('whether the test proxy got a connection for this step'),
        user: z.string().optional(),
        atyp: z.enum(['domain', 'ipv4', 'ipv6']).optional(),
        host: z.string().optional(),
        port: port.optional(),
        replyCode: z.number().int().min(0).max(255).optional(),
        auth: z.enum(['accepted', 'rejected']).optional(),
        closeCause: z.string().optional(),
      })
      .strict()
      .optional()
      .describe('what the test proxy saw (its connection log entry)'),
    audit: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional().describe('fields of the flow’s result audit event'),
    response: contains.optional().describe('the first bytes back, as text'),
    resolves: z.boolean().optional(),
    addresses: z.array(z.string()).optional(),
    exitCode: z.number().int().optional(),
    stdout: contains.optional(),
    error: contains.optional().describe('the step itself fails (an API refusal) with this in its message'),
  })
  .strict();
export type Expectation = z.infer<typeof expectationSchema>;

const connect = z
  .object({
    host: name.optional(),
    ip: ip.optional(),
    port,
    send: z.enum(['tls', 'http', 'raw']).default('tls').describe('tls: a ClientHello (SNI = sni or host); http: GET with Host; raw: data'),
    sni: name.optional(),
    alpn: z.array(z.string().min(1)).optional(),
    data: z.string().optional().describe('text sent as is, for send raw'),
    timeoutMs: z.number().int().min(1).max(30_000).optional(),
  })
  .strict();
const quic = z
  .object({ host: name.optional(), ip: ip.optional(), port: port.default(443), sni: name.optional(), alpn: z.array(z.string().min(1)).optional() })
  .strict()
  .describe('one QUIC v1 Initial (HTTP/3’s first datagram) with SNI = sni or host');
const evaluateStep = z
  .object({ host: name.optional(), ip: ip.optional(), port, transport: z.enum(['tcp', 'udp']).optional(), appProtocol: z.string().optional(), sni: name.optional() })
  .strict();

export const stepActions = ['connect', 'quic', 'evaluate', 'dns', 'exec', 'policy', 'rotateCredential', 'proxyUsers', 'addFault', 'removeFault', 'platformDns', 'wait'] as const;
export type StepAction = (typeof stepActions)[number];

const step = z
  .object({
    name: z.string().optional(),
    sandbox: z.string().optional().describe('which sandbox (by name); default: the first'),
    connect: connect.optional().describe('a real TCP flow from the sandbox (admin probe)'),
    quic: quic.optional(),
    evaluate: evaluateStep.optional().describe('a dry run of the gateway’s decision'),
    dns: z.object({ name }).strict().optional().describe('how the sandbox resolves a name'),
    exec: z
      .object({ command: z.union([z.string(), z.array(z.string()).min(1)]), timeoutMs: z.number().int().min(1).max(120_000).optional() })
      .strict()
      .optional()
      .describe('a command in the sandbox (transparent interception only; skipped otherwise)'),
    policy: z.record(z.string(), z.unknown()).optional().describe('a new network policy PUT for the sandbox'),
    rotateCredential: z
      .object({ source: z.string().min(1), spec: z.record(z.string(), z.unknown()) })
      .strict()
      .optional()
      .describe('a credential source update (a new version; bindings are re-pinned)'),
    proxyUsers: z.array(proxyUser).min(1).optional().describe('replace the test proxy users (the customer rotated the proxy password)'),
    addFault: fault.optional(),
    removeFault: z.string().min(1).optional(),
    platformDns: z.record(z.string(), z.array(z.string()).min(1)).optional().describe('set platform DNS records (the cluster DNS: what sandboxes and host verification resolve)'),
    wait: z.object({ ms: z.number().int().min(0).max(60_000) }).strict().optional(),
    expect: expectationSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = stepActions.filter((a) => s[a] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `a step has exactly one action (${stepActions.join(', ')}); got ${given.length ? given.join(', ') : 'none'}` });
    for (const a of ['connect', 'quic', 'evaluate'] as const) {
      const t = s[a] as { host?: string; ip?: string; sni?: string } | undefined;
      if (t && t.host === undefined && t.ip === undefined) ctx.addIssue({ code: 'custom', path: [a], message: 'host or ip is required' });
    }
  });
export type ScenarioStep = z.infer<typeof step>;

export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(scenarioVersion).default(scenarioVersion),
    name: z.string().min(1),
    description: z.string().optional(),
    emulator: z
      .object({
        interception: z.enum(['explicit', 'transparent']).default('explicit').describe('for an emulator the run starts; transparent needs root or CAP_NET_ADMIN'),
        udpEgress: z.enum(['reject', 'direct']).optional(),
      })
      .strict()
      .optional(),
    platform: platform.optional(),
    customer: customer.optional(),
    steps: z.array(step).min(1),
  })
  .strict();
export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** The JSON Schema of the scenario file (draft 2020-12), from the zod schema. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
    title: 'sandbox-egress-emulator scenario',
  };
}

/** A scenario file that does not parse or validate; `message` names each problem with its path. */
export class ScenarioFileError extends Error {
  override readonly name = 'ScenarioFileError';
  readonly code = 'invalid_scenario';
}

/** Validates a parsed document; throws `ScenarioFileError` with every issue (path: message). */
export function parseScenario(doc: unknown, source = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(doc);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`).join('\n');
  throw new ScenarioFileError(`${source} is not a valid scenario:\n${issues}`);
}
