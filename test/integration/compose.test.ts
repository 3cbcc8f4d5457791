import { Ajv } from 'ajv';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, binPath, repoRoot } from '../helpers/bin.js';

/**
 * docker-compose.yml, checked offline (no Docker here): valid against the Compose specification schema
 * bundled in dclint, and consistent with what the emulator, its image and the proxy expect.
 */
const composePath = join(repoRoot, 'docker-compose.yml');
const compose = parse(readFileSync(composePath, 'utf8')) as Record<string, any>;
const services = compose.services as Record<string, any>;

/** `${NAME:-default}` as Compose interpolates it when NAME is unset. */
const interpolate = (value: string) => value.replace(/\$\{([A-Z_]+):-([^}]*)\}/g, (_, name: string, dflt: string) => process.env[`COMPOSE_TEST_${name}`] ?? dflt);

/** Every environment variable the emulator's code reads by name (`env.X` / `env['X']`). */
function variablesReadBySource(dir: string, found = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) variablesReadBySource(path, found);
    else if (path.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) found.add(m[1]!);
  }
  return found;
}

/** `--flag value` pairs of an argv list. */
function flagValue(argv: string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
}

let startHelp = '';
beforeAll(async () => {
  assertBuilt();
  startHelp = (await execa('node', [binPath, 'start', '--help'])).stdout;
});

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const require = createRequire(import.meta.url);
    const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    // Draft-07, named by a URL spelling Ajv does not register (no trailing '#'); Ajv's default is draft-07.
    expect(schema.$schema).toMatch(/draft-07/);
    delete schema.$schema;
    const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
    // The validator does reject a broken file (a service key the spec does not have).
    expect(validate({ services: { emulator: { image: 'x', capabilities: ['NET_ADMIN'] } } })).toBe(false);
  });

  it('has the emulator, a SOCKS5 proxy with auth and an internal service only the proxy can reach', () => {
    expect(Object.keys(services).sort()).toEqual(['corp-proxy', 'emulator', 'internal-api']);
    expect(compose.networks['corp-internal'].internal).toBe(true);
    const networksOf = (name: string) => {
      const n = services[name].networks;
      return Array.isArray(n) ? n : Object.keys(n);
    };
    expect(networksOf('internal-api')).toEqual(['corp-internal']);
    expect(networksOf('emulator')).not.toContain('corp-internal');
    expect(networksOf('corp-proxy').sort()).toEqual(['corp-internal', 'egress']);
    expect(networksOf('emulator')).toEqual(['egress']);
    // The internal service answers to the docs' hostname on the customer side (the proxy resolves it).
    expect(services['internal-api'].networks['corp-internal'].aliases).toContain('api.internal.example.com');
  });

  it('runs the emulator in transparent mode with the capabilities, flags, port and token it expects', () => {
    const emulator = services.emulator;
    expect(emulator.cap_add).toContain('NET_ADMIN');
    const command = emulator.command as string[];
    expect(command[0]).toBe('start');
    for (const flag of command.filter((a) => a.startsWith('--'))) expect(startHelp, `start does not know ${flag}`).toContain(`${flag} `);
    expect(flagValue(command, '--interception')).toBe('transparent');
    expect(flagValue(command, '--host')).toBe('0.0.0.0');
    const port = flagValue(command, '--port');
    expect(emulator.environment.SEE_PORT).toBe(port);
    expect(emulator.environment.SEE_INTERCEPTION).toBe('transparent');
    expect(emulator.ports).toEqual([`127.0.0.1:${port}:${port}`]);
    expect(emulator.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${port}/_emulator/health`);
    expect(flagValue(command, '--data-dir')).toBe(emulator.environment.SEE_DATA_DIR);
    expect(emulator.volumes).toContain(`emulator-data:${emulator.environment.SEE_DATA_DIR}`);
    // Every variable set is one the emulator reads.
    const read = variablesReadBySource(join(repoRoot, 'src'));
    for (const name of Object.keys(emulator.environment)) expect(read, `the emulator never reads ${name}`).toContain(name);
    expect(interpolate(emulator.environment.SEE_TOKEN)).toMatch(/^\S+$/);
    expect(emulator.environment.SANDBOX0_TOKEN).toBeUndefined();
  });

  it('says in its header that it needs Compose v2', () => {
    expect(readFileSync(composePath, 'utf8').split('\nname:')[0]).toMatch(/Needs Docker Compose v2/);
  });

  it('builds the emulator from a Dockerfile that runs npm ci and npm run build', () => {
    const { context, dockerfile } = services.emulator.build;
    const path = join(repoRoot, context, dockerfile);
    expect(existsSync(path)).toBe(true);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/RUN npm ci\b.*&& npm run build/);
    expect(text).toMatch(/iproute2/);
    expect(text).toMatch(/nftables/);
    expect(text).toMatch(/conntrack/);
    // The entrypoint is the package's bin, the file `npm run build` produces.
    const bin = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['sandbox-egress-emulator'];
    expect(text).toContain(`ENTRYPOINT ["node", "${bin}"]`);
    // Every file the Dockerfile copies from the context exists.
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) for (const src of m[1]!.split(/\s+/)) expect(existsSync(join(repoRoot, context, src)), src).toBe(true);
  });

  it('runs microsocks with username/password auth on the port the docs policy points at', () => {
    const proxy = services['corp-proxy'];
    const dockerfile = readFileSync(join(repoRoot, proxy.build.context, proxy.build.dockerfile), 'utf8');
    expect(dockerfile).toMatch(/apt-get install .*microsocks/);
    const argv = (proxy.command as string[]).map(interpolate);
    expect(flagValue(argv, '-p')).toBe('1080');
    expect(flagValue(argv, '-i')).toBe('0.0.0.0');
    expect(flagValue(argv, '-u')).toBe(interpolate(proxy.environment.PROXY_USERNAME));
    expect(flagValue(argv, '-P')).toBe(interpolate(proxy.environment.PROXY_PASSWORD));
    expect(proxy.expose).toContain('1080');
    // The fixed address the header's platform DNS record uses is inside the egress subnet.
    const address = proxy.networks.egress.ipv4_address as string;
    const subnet = compose.networks.egress.ipam.config[0].subnet as string;
    expect(address.split('.').slice(0, 3)).toEqual(subnet.split('/')[0]!.split('.').slice(0, 3));
    expect(subnet.endsWith('/24')).toBe(true);
    expect(readFileSync(composePath, 'utf8')).toContain(`"proxy.example.com:1080":["${address}:1080"]`);
  });

  it('serves the internal API over TLS with the fixture certificate files that exist', () => {
    const api = services['internal-api'];
    expect(api.image).toMatch(/^nginx:\d/);
    const mounts = (api.volumes as string[]).map((v) => v.split(':'));
    for (const [host] of mounts) expect(existsSync(join(repoRoot, host!)), host).toBe(true);
    const conf = readFileSync(join(repoRoot, mounts.find(([, target]) => target === '/etc/nginx/nginx.conf')![0]!), 'utf8');
    expect(conf).toMatch(/listen 443 ssl;/);
    for (const m of conf.matchAll(/ssl_certificate(?:_key)? +(\S+);/g)) expect(mounts.map(([, target]) => target)).toContain(m[1]);
  });
});
