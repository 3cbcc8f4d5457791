import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootNamespaceBackend, type RootNamespaceBackend } from '../../../src/interception/transparent/root-backend.js';
import type { OriginalDestination } from '../../../src/interception/namespace-backend.js';
import { hostNftTables, inNamespace, nftCounter, ourEtcNetns, ourHostLinks, ourNamespaces, transparentUnavailable } from '../../helpers/netns.js';

/**
 * The root namespace backend end to end: unmodified programs in a sandbox namespace dial
 * 198.18.0.0/15 addresses, the test's echo consumer accepts them on the backend's listeners and
 * learns what was dialled. Every destination is in 198.18.0.0/15 and nothing can leave the machine
 * (the gateway namespace has no route out; the counters prove nothing tried).
 */

const skip = transparentUnavailable();

/** Node client run inside the sandbox: connects, sends a line, prints everything it receives. */
const tcpClient = (host: string, port: number, line: string): string[] => [
  process.execPath,
  '-e',
  `const s=require('net').connect(${port},'${host}',()=>s.write('${line}\\n'));let b='';` +
    `s.on('data',d=>{b+=d;if(b.split('\\n').length>2){process.stdout.write(b);s.end()}});` +
    `s.on('error',e=>{console.error(e.message);process.exit(2)});setTimeout(()=>{console.error('timeout '+b);process.exit(3)},5000).unref();`,
];

/** Node client run inside the sandbox: one datagram, prints the reply and who it came from. */
const udpClient = (host: string, port: number, payload: string): string[] => [
  process.execPath,
  '-e',
  `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{process.stdout.write(r.address+':'+r.port+' '+m);s.close()});` +
    `s.send('${payload}',${port},'${host}');setTimeout(()=>{console.error('no reply');process.exit(3)},5000).unref();`,
];

describe.skipIf(skip)('root namespace backend', () => {
  let backend: RootNamespaceBackend;
  let instanceId: string;
  const answers: Array<{ sandboxId: string; name: string; addresses: string[] }> = [];
  const accepted: Array<{ socket: net.Socket; original: OriginalDestination | undefined; sandboxId: string | undefined }> = [];

  beforeAll(async () => {
    backend = createRootNamespaceBackend({
      dns: {
        lookup: (sandboxId, name) => (sandboxId === 'sb-1' && name === 'api.internal.example.com' ? ['198.18.0.10'] : undefined),
        onAnswer: (sandboxId, name, addresses) => answers.push({ sandboxId, name, addresses }),
      },
    });
    instanceId = backend.instanceId;
    await backend.start();
    // The echo consumer: first line says what the sandbox dialled, then everything is echoed.
    backend.tcpServer.on('connection', (socket: net.Socket) => {
      socket.on('error', () => socket.destroy());
      void backend.originalDestination(socket).then((original) => {
        accepted.push({ socket, original, sandboxId: backend.sandboxForAddress(socket.remoteAddress ?? '') });
        const line = `dst ${original ? `${original.ip}:${original.port}` : 'missing'}\n`;
        socket.once('data', (first: Buffer) => {
          // HTTP clients (curl) get an HTTP answer; anything else gets the line and an echo.
          if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(first.toString('latin1'))) {
            const body = `${line}${first.toString('latin1')}`;
            socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
            return;
          }
          socket.write(line);
          socket.write(first);
          socket.pipe(socket);
        });
      });
    });
    backend.udpSocket.on('message', (msg, rinfo) => {
      void backend.originalDestinationForDatagram(rinfo).then((original) => {
        backend.udpSocket.send(`dst ${original ? `${original.ip}:${original.port}` : 'missing'} ${msg.toString()}`, rinfo.port, rinfo.address);
      });
    });
  });

  afterAll(async () => {
    for (const a of accepted) a.socket.destroy();
    await backend?.stop();
  });

  it('creates a sandbox namespace with an address, a default route and resolver files', async () => {
    const network = await backend.createSandbox('sb-1', { hosts: { 'db.corp.example.com': ['198.18.0.20'] } });
    expect(network.namespace).toBe(`see-${instanceId}-s0`);
    expect(backend.sandboxForAddress(network.address)).toBe('sb-1');
    expect(await inNamespace(network.namespace, ['ip', 'route', 'show', 'default'])).toContain(`via ${network.gateway}`);
    expect(await inNamespace(network.namespace, ['cat', '/etc/resolv.conf'])).toContain(`nameserver ${network.gateway}`);
    expect(await inNamespace(network.namespace, ['getent', 'hosts', 'db.corp.example.com'])).toContain('198.18.0.20');
    // Nothing of ours in the host namespace.
    expect(ourHostLinks(instanceId)).toEqual([]);
    expect(hostNftTables()).not.toMatch(/table ip see\b/);
  });

  it('redirects TCP to any destination to the listener with its original destination, both ways', async () => {
    const [a, b] = await Promise.all([
      backend.exec('sb-1', tcpClient('198.18.9.9', 443, 'hello-443')),
      backend.exec('sb-1', tcpClient('198.18.3.4', 8080, 'hello-8080')),
    ]);
    expect(a.stderr).toBe('');
    expect(a.stdout).toBe('dst 198.18.9.9:443\nhello-443\n');
    expect(b.stdout).toBe('dst 198.18.3.4:8080\nhello-8080\n');
    const mine = accepted.filter((x) => x.original?.ip === '198.18.9.9' || x.original?.ip === '198.18.3.4');
    expect(mine.map((x) => x.sandboxId)).toEqual(['sb-1', 'sb-1']);
  });

  it('finds the original destination when the kernel remaps a reused sandbox source port', async () => {
    // The same sandbox port to two destinations in a row: the first flow's conntrack entry (TIME_WAIT)
    // still holds the redirected reply tuple, so the kernel gives the second a different source port.
    const script =
      `const net=require('net');let out='';function go(host,line,then){const s=net.connect({port:443,host,localPort:40000},()=>s.write(line+'\\n'));` +
      `let b='';s.on('data',d=>{b+=d;if(b.split('\\n').length>2){out+=b;s.end()}});s.on('close',then);s.on('error',e=>{console.error(e.message);process.exit(2)})}` +
      `go('198.18.1.1','a',()=>go('198.18.1.2','b',()=>process.stdout.write(out)));setTimeout(()=>process.exit(3),5000).unref();`;
    const r = await backend.exec('sb-1', [process.execPath, '-e', script]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('dst 198.18.1.1:443\na\ndst 198.18.1.2:443\nb\n');
    const second = accepted.find((x) => x.original?.ip === '198.18.1.2');
    expect(second?.socket.remotePort).not.toBe(40000);
  });

  it('serves unmodified curl', async () => {
    const r = await backend.exec('sb-1', ['curl', '-sS', '-m', '5', '--data-binary', 'x', 'http://198.18.9.9:80/p']);
    // curl sends an HTTP request; the echo consumer answers with its first line and the request itself.
    expect(r.stdout.split('\n')[0]).toBe('dst 198.18.9.9:80');
    expect(r.stdout).toContain('POST /p HTTP/1.1');
  });

  it('redirects UDP (a foreign DNS resolver included) to the UDP listener, replies come from the original destination', async () => {
    const quic = await backend.exec('sb-1', udpClient('198.18.0.77', 4433, 'datagram'));
    expect(quic.stdout).toBe('198.18.0.77:4433 dst 198.18.0.77:4433 datagram');
    const foreignDns = await backend.exec('sb-1', udpClient('198.18.0.53', 53, 'query'));
    expect(foreignDns.stdout).toBe('198.18.0.53:53 dst 198.18.0.53:53 query');
  });

  it('answers DNS at the gateway address from the injected lookup, UDP and TCP, and reports answers', async () => {
    const gw = backend.sandbox('sb-1')!.gateway;
    const udp = await backend.exec('sb-1', ['dig', `@${gw}`, '+short', '+time=2', '+tries=1', 'api.internal.example.com']);
    expect(udp.stdout.trim()).toBe('198.18.0.10');
    const tcp = await backend.exec('sb-1', ['dig', `@${gw}`, '+tcp', '+time=2', '+tries=1', 'api.internal.example.com']);
    expect(tcp.stdout).toContain('198.18.0.10');
    const nx = await backend.exec('sb-1', ['dig', `@${gw}`, '+time=2', '+tries=1', 'unknown.example.com']);
    expect(nx.stdout).toContain('status: NXDOMAIN');
    // Through resolv.conf, as any program would.
    const getent = await backend.exec('sb-1', ['getent', 'ahostsv4', 'api.internal.example.com']);
    expect(getent.stdout).toContain('198.18.0.10');
    expect(answers.filter((x) => x.name === 'api.internal.example.com').every((x) => x.sandboxId === 'sb-1' && x.addresses[0] === '198.18.0.10')).toBe(true);
    expect(answers.length).toBeGreaterThanOrEqual(3);
  });

  it('reports a missing original destination as undefined after a bounded wait', async () => {
    const fake = { remoteAddress: '10.255.0.9', remotePort: 1 } as net.Socket;
    await expect(backend.originalDestination(fake, 20)).resolves.toBeUndefined();
    await expect(backend.originalDestinationForDatagram({ address: '10.255.0.9', port: 1 }, 20)).resolves.toBeUndefined();
  });

  it('setHosts changes what new programs resolve', async () => {
    await backend.setHosts('sb-1', { 'late.corp.example.com': ['198.18.0.30'] });
    const r = await backend.exec('sb-1', ['getent', 'hosts', 'late.corp.example.com']);
    expect(r.stdout).toContain('198.18.0.30');
  });

  it('passes env and cwd to commands, and not the emulator environment', async () => {
    process.env.SEE_TEST_LEAK = 'leak';
    try {
      const r = await backend.exec('sb-1', ['sh', '-c', 'echo "$FOO $SEE_TEST_LEAK $(pwd)"'], { env: { FOO: 'bar' }, cwd: '/tmp' });
      expect(r.stdout).toBe('bar  /tmp\n');
      expect(r.exitCode).toBe(0);
    } finally {
      delete process.env.SEE_TEST_LEAK;
    }
  });

  it('nothing leaves the machine: no route out of the gateway, nothing forwarded or sent out', async () => {
    const gw = backend.gatewayNamespace;
    expect(await inNamespace(gw, ['ip', 'route', 'show', 'default'])).toBe('');
    expect((await inNamespace(gw, ['sysctl', '-n', 'net.ipv4.ip_forward'])).trim()).toBe('0');
    // A sandbox ping to a 198.18 address is not redirected (not TCP/UDP): it must die in the gateway.
    await backend.exec('sb-1', ['ping', '-c', '1', '-W', '1', '198.18.7.7']);
    expect(await nftCounter(gw, 'forward', 'never forward')).toBe(0);
    expect(await nftCounter(gw, 'output', 'no way out')).toBe(0);
    expect(await nftCounter(gw, 'prerouting', 'tcp listener')).toBeGreaterThanOrEqual(3);
    expect(await nftCounter(gw, 'prerouting', 'udp listener')).toBeGreaterThanOrEqual(2);
    expect(await nftCounter(gw, 'prerouting', 'sandbox resolver')).toBeGreaterThanOrEqual(2);
  });

  it('a sandbox created right after one is deleted reuses its index (and veth names) without a clash', { timeout: 60_000 }, async () => {
    // Namespaces are torn down by the kernel asynchronously; the veth pair must go with the delete.
    for (let round = 0; round < 3; round++) {
      const ids = Array.from({ length: 10 }, (_, i) => `churn-${round}-${i}`);
      for (const id of ids) await backend.createSandbox(id);
      for (const id of ids) await backend.deleteSandbox(id);
      const net = await backend.createSandbox(`churn-${round}`);
      expect(net.address).toBeTruthy();
      await backend.deleteSandbox(`churn-${round}`);
    }
  });

  it('a command started right before its sandbox is deleted ends killed too, whoever wins the race', async () => {
    for (let round = 0; round < 5; round++) {
      const id = `race-${round}`;
      const sandbox = await backend.createSandbox(id);
      const running = backend.exec(id, ['sleep', '30']);
      // Rounds differ in how far the command got: not yet spawned, spawned, or inside.
      if (round % 3 === 1) await new Promise((r) => setImmediate(r));
      if (round % 3 === 2) await new Promise((r) => setTimeout(r, 20));
      await backend.deleteSandbox(id);
      const result = await running;
      expect({ round, signal: result.signal, stderr: result.stderr }).toEqual({ round, signal: 'SIGKILL', stderr: '' });
      expect(ourNamespaces(instanceId)).not.toContain(sandbox.namespace);
    }
  });

  it('deleteSandbox removes its namespace, links and files; stop removes the rest', async () => {
    const second = await backend.createSandbox('sb-2');
    expect(ourNamespaces(instanceId)).toContain(second.namespace);
    // Deleted once the command is really running inside (a delete that wins the race against the
    // start fails the start instead, which is not what this checks).
    const running = backend.exec('sb-2', ['sh', '-c', 'echo started; exec sleep 30']);
    await new Promise<void>((resolve, reject) => {
      running.stdout!.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
      void running.then((r) => reject(new Error(`the command ended before it started: ${JSON.stringify({ exitCode: r.exitCode, signal: r.signal, stderr: r.stderr })}`)));
    });
    await backend.deleteSandbox('sb-2');
    // A command still running inside would keep the namespace (and its link) alive: it is killed.
    expect((await running).signal).toBe('SIGKILL');
    expect(ourNamespaces(instanceId)).not.toContain(second.namespace);
    expect(ourEtcNetns(instanceId)).not.toContain(second.namespace);
    expect(await inNamespace(backend.gatewayNamespace, ['ip', '-o', 'link', 'show'])).not.toContain(`see${instanceId}1g`);
    expect(backend.sandboxForAddress(second.address)).toBeUndefined();
    await backend.deleteSandbox('sb-2'); // idempotent

    await backend.stop();
    expect(ourNamespaces(instanceId)).toEqual([]);
    expect(ourHostLinks(instanceId)).toEqual([]);
    expect(ourEtcNetns(instanceId)).toEqual([]);
    const { helper, conntrack } = backend.processIds;
    for (const pid of [helper, conntrack]) expect(pid !== undefined && isAlive(pid)).toBe(false);
    await backend.stop(); // idempotent
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
