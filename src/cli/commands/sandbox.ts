import type { CliCommand } from '../io.js';
import { act, clientFor, printResult, request, show, step } from '../s0/command-helpers.js';
import { executeTree, type S0CommandDef, type S0Context } from '../s0/command-tree.js';
import { goQuote } from '../../go/quote.js';
import type { FlagSpec } from '../s0/flags.js';
import { buildNetworkPolicy, type NetworkUpdateOptions } from '../s0/network-policy-builder.js';
import { fileOrStdinReader } from '../s0/read-input.js';
import { claimedSandboxTable, networkPolicyTable, sandboxListTable, sandboxTable } from '../s0/table.js';

/**
 * `sandbox create|get|list|delete` and `sandbox network get|update`: the official `s0` CLI's
 * commands (`internal/commands/sandbox.go`, `sandbox_network.go`) with the same flags, defaults,
 * outputs and messages, against whatever `--api-url` / `SANDBOX0_BASE_URL` points at.
 */

type Data = Record<string, unknown>;

/** `s0 sandbox create -o json|yaml` prints this shape (upstream `sandboxCreateOutput`). */
function claimOutput(d: Data): Data {
  const out: Data = { id: d.sandbox_id, template: d.template };
  if (typeof d.cluster_id === 'string') out.cluster_id = d.cluster_id;
  out.pod_name = d.pod_name ?? '';
  out.status = d.status;
  out.bootstrap_mounts = d.bootstrap_mounts ?? null;
  return out;
}

const create: S0CommandDef = {
  name: 'create',
  short: 'Create (claim) a new sandbox',
  long: 'Create a new sandbox from a template.',
  flags: [
    { name: 'template', short: 't', kind: 'string', usage: 'template ID (required unless config file includes template)' },
    { name: 'ttl', kind: 'int', bits: 32, usage: 'soft TTL in seconds' },
    { name: 'hard-ttl', kind: 'int', bits: 32, usage: 'hard TTL in seconds' },
  ],
  async run(ctx) {
    const client = await step(ctx.io, 'Error creating client', () => clientFor(ctx));
    if (!client.ok) return 1;
    const request = await step(ctx.io, 'Error building sandbox create request', () => {
      const template = ctx.flags.str('template');
      if (template === '') throw new Error('--template is required unless provided in config file');
      const config: Data = {};
      if (ctx.flags.int('ttl') > 0) config.ttl = ctx.flags.int('ttl');
      if (ctx.flags.int('hard-ttl') > 0) config.hard_ttl = ctx.flags.int('hard-ttl');
      return Object.keys(config).length ? { template, config } : { template };
    });
    if (!request.ok) return 1;
    const claimed = await step(ctx.io, 'Error creating sandbox', () => client.value.claimSandbox(request.value));
    if (!claimed.ok) return 1;
    const out = claimOutput(claimed.value);
    return printResult(ctx, out, () => claimedSandboxTable(out));
  },
};

const get: S0CommandDef = {
  name: 'get',
  use: 'get <sandbox-id>',
  short: 'Get sandbox details',
  long: 'Get details of a sandbox by its ID.',
  exactArgs: 1,
  async run(ctx) {
    return show(ctx, 'Error getting sandbox', (client) => client.getSandbox(ctx.args[0]!), sandboxTable);
  },
};

const list: S0CommandDef = {
  name: 'list',
  short: 'List sandboxes',
  long: 'List all sandboxes for the authenticated team.',
  flags: [
    { name: 'status', kind: 'string', usage: 'filter by status (starting, running, failed, completed)' },
    { name: 'template-id', kind: 'string', usage: 'filter by template ID' },
    { name: 'paused', kind: 'string', usage: 'filter by paused state (true/false)' },
    { name: 'limit', kind: 'int', usage: 'maximum number of results', defaultValue: 50 },
    { name: 'offset', kind: 'int', usage: 'pagination offset' },
  ],
  async run(ctx) {
    const query: Record<string, string> = {};
    const { flags } = ctx;
    if (flags.str('status') !== '') query.status = flags.str('status');
    if (flags.str('template-id') !== '') query.template_id = flags.str('template-id');
    // Upstream: any value other than "true" filters for unpaused sandboxes.
    if (flags.str('paused') !== '') query.paused = String(flags.str('paused') === 'true');
    if (flags.int('limit') > 0) query.limit = String(flags.int('limit'));
    if (flags.int('offset') > 0) query.offset = String(flags.int('offset'));
    return show(ctx, 'Error listing sandboxes', (client) => client.listSandboxes(query), sandboxListTable);
  },
};

const remove: S0CommandDef = {
  name: 'delete',
  use: 'delete <sandbox-id>',
  short: 'Delete a sandbox',
  long: 'Delete (terminate) a sandbox by its ID.',
  exactArgs: 1,
  async run(ctx) {
    const id = ctx.args[0]!;
    return act(ctx, 'Error deleting sandbox', (client) => client.deleteSandbox(id), () => `Sandbox ${id} deleted successfully\n`);
  },
};

/** `--env K=V` values as upstream's parseExecEnvVars: split at the first `=`, later keys win. */
export function parseExecEnv(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) throw new Error(`invalid env format ${goQuote(v)}, expected KEY=VALUE`);
    env[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return env;
}

/** A remote command may run for long: exec waits as long as the command does (upstream has no client timeout). */
const execTimeoutMs = 24 * 60 * 60 * 1000;

const exec: S0CommandDef = {
  name: 'exec',
  use: 'exec <sandbox-id> -- <command> [args...]',
  short: 'Execute a command in a sandbox',
  long: `Execute a command in a sandbox and wait for completion.

The command must be preceded by '--' to separate it from flags.

Examples:
  sandbox-egress-emulator sandbox exec sb_abc123 -- echo "Hello"
  sandbox-egress-emulator sandbox exec sb_abc123 --cwd /app -- python script.py

The emulator runs the command to completion and then prints its output (--stream is accepted
and behaves the same); interactive and TTY exec (-i, -t) are not supported.`,
  flags: [
    { name: 'cwd', kind: 'string', usage: 'working directory' },
    { name: 'env', kind: 'stringArray', usage: 'environment variables (KEY=VALUE, can be repeated)' },
    { name: 'no-wait', kind: 'bool', usage: "don't wait for command completion" },
    { name: 'ttl', kind: 'int', bits: 32, usage: 'context TTL in seconds' },
    { name: 'stream', kind: 'bool', usage: 'stream stdout/stderr without allocating a TTY' },
    { name: 'interactive', short: 'i', kind: 'bool', usage: 'keep stdin attached and stream exec I/O (implies TTY)' },
    { name: 'tty', short: 't', kind: 'bool', usage: 'allocate a TTY and stream exec I/O' },
  ],
  minArgs: 2,
  async run(ctx) {
    const { io, flags } = ctx;
    const [sandboxId, ...command] = ctx.args as [string, ...string[]];
    if (command.length === 0) {
      io.stderr.write("Error: command is required (use '--' followed by command)\n");
      return 1;
    }
    const env = await step(io, 'Error', () => parseExecEnv(flags.list('env')));
    if (!env.ok) return 1;
    const client = await step(io, 'Error creating client', () => clientFor(ctx, { timeoutMs: execTimeoutMs }));
    if (!client.ok) return 1;
    const noWait = flags.bool('no-wait');
    if (noWait && (flags.bool('stream') || flags.bool('interactive') || flags.bool('tty'))) {
      io.stderr.write('Error: --no-wait cannot be used with streaming, interactive, or TTY exec\n');
      return 1;
    }
    const result = await step(io, 'Error executing command', () => {
      if (flags.bool('interactive') || flags.bool('tty')) {
        throw new Error('interactive and TTY exec are not supported by sandbox-egress-emulator; run the command without -i/-t');
      }
      // The SDK's Cmd refuses a command that is only blanks before making any request.
      if (command.join(' ').trim() === '') throw new Error('command cannot be empty');
      const request: Data = { type: 'cmd', cmd: { command }, wait_until_done: !noWait };
      if (flags.str('cwd') !== '') request.cwd = flags.str('cwd');
      if (env.value) request.env_vars = env.value;
      if (flags.int('ttl') > 0) request.ttl_sec = flags.int('ttl');
      return client.value.createContext(sandboxId, request);
    });
    if (!result.ok) return 1;
    const r = result.value;
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    if (stdout === '' && stderr === '') {
      io.stdout.write(typeof r.output_raw === 'string' ? r.output_raw : '');
    } else {
      io.stdout.write(stdout);
      io.stderr.write(stderr);
    }
    // The remote exit code becomes ours; none (--no-wait) or 0 is success.
    return typeof r.exit_code === 'number' && r.exit_code !== 0 ? r.exit_code : 0;
  },
};

const networkUpdateFlags: FlagSpec[] = [
  { name: 'mode', kind: 'string', usage: 'network mode (allow-all, block-all)' },
  { name: 'policy-file', short: 'f', kind: 'string', usage: 'path to network policy YAML/JSON file, or - for stdin' },
  { name: 'allow-cidr', kind: 'stringArray', usage: 'allowed CIDR (can be repeated)' },
  { name: 'allow-domain', kind: 'stringArray', usage: 'allowed domain (can be repeated)' },
  { name: 'allow-port', kind: 'stringArray', usage: 'allowed port spec: <port>[/tcp|udp] or <start>-<end>[/tcp|udp] (can be repeated)' },
  { name: 'deny-cidr', kind: 'stringArray', usage: 'denied CIDR (can be repeated)' },
  { name: 'deny-domain', kind: 'stringArray', usage: 'denied domain (can be repeated)' },
  { name: 'deny-port', kind: 'stringArray', usage: 'denied port spec: <port>[/tcp|udp] or <start>-<end>[/tcp|udp] (can be repeated)' },
  { name: 'traffic-rule', kind: 'stringArray', usage: 'traffic rule object as JSON/YAML (can be repeated)' },
  { name: 'protocol-rule', kind: 'stringArray', usage: 'protocol rule object as JSON/YAML (can be repeated)' },
  { name: 'credential-rule', kind: 'stringArray', usage: 'credential rule object as JSON/YAML (can be repeated)' },
  { name: 'credential-binding', kind: 'stringArray', usage: 'credential binding object as JSON/YAML (can be repeated)' },
  { name: 'proxy', kind: 'string', usage: 'SOCKS5 egress proxy endpoint: socks5://host:port or host:port' },
  { name: 'proxy-credential-ref', kind: 'string', usage: 'credential binding ref used by --proxy' },
  { name: 'proxy-credential-source', kind: 'string', usage: 'credential source name for --proxy username_password binding' },
];

function networkUpdateOptions(ctx: S0Context): NetworkUpdateOptions {
  const { flags } = ctx;
  return {
    mode: flags.str('mode'),
    policyFile: flags.str('policy-file'),
    allowedCidrs: flags.list('allow-cidr'),
    allowedDomains: flags.list('allow-domain'),
    allowedPorts: flags.list('allow-port'),
    deniedCidrs: flags.list('deny-cidr'),
    deniedDomains: flags.list('deny-domain'),
    deniedPorts: flags.list('deny-port'),
    trafficRules: flags.list('traffic-rule'),
    protocolRules: flags.list('protocol-rule'),
    credentialRules: flags.list('credential-rule'),
    credentialBindings: flags.list('credential-binding'),
    proxy: flags.str('proxy'),
    proxyCredentialRef: flags.str('proxy-credential-ref'),
    proxyCredentialSource: flags.str('proxy-credential-source'),
  };
}

const network: S0CommandDef = {
  name: 'network',
  short: 'Manage network policy',
  long: 'Get and update network policy for a sandbox.',
  persistentFlags: [{ name: 'sandbox-id', short: 's', kind: 'string', usage: 'sandbox ID (required)' }],
  requiredFlags: ['sandbox-id'],
  subcommands: [
    {
      name: 'get',
      short: 'Get network policy',
      long: 'Get the network policy configuration for the sandbox.',
      async run(ctx) {
        return show(ctx, 'Error getting network policy', (client) => client.getNetworkPolicy(ctx.flags.str('sandbox-id')), networkPolicyTable);
      },
    },
    {
      name: 'update',
      short: 'Update network policy',
      long: 'Update the network policy configuration for the sandbox.',
      flags: networkUpdateFlags,
      async run(ctx) {
        const client = await step(ctx.io, 'Error creating client', () => clientFor(ctx));
        if (!client.ok) return 1;
        const policy = await step(ctx.io, 'Error building network policy', () => buildNetworkPolicy(networkUpdateOptions(ctx), fileOrStdinReader()));
        if (!policy.ok) return 1;
        const updated = await step(ctx.io, 'Error updating network policy', () => client.value.updateNetworkPolicy(ctx.flags.str('sandbox-id'), policy.value));
        if (!updated.ok) return 1;
        return printResult(ctx, updated.value, () => networkPolicyTable(updated.value));
      },
    },
  ],
};

export const sandboxCommand: S0CommandDef = {
  name: 'sandbox',
  short: 'Manage sandboxes (s0-compatible subset)',
  long: 'Create, get, list and delete sandboxes, run commands in them, and get or update their network policy.\nSame flags, output and messages as the official s0 CLI.',
  subcommands: [create, get, list, remove, exec, network],
};

export const run: CliCommand = (args, io) => executeTree(sandboxCommand, args, io);
