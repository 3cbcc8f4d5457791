import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootNamespaceBackend, type RootNamespaceBackend } from '../../../src/interception/transparent/root-backend.js';
import { transparentUnavailable } from '../../helpers/netns.js';

/** Without the conntrack event stream, original destinations come from the namespace's /proc table. */

const skip = transparentUnavailable();

describe.skipIf(skip)('original destination from /proc/<helper>/net/nf_conntrack', () => {
  let backend: RootNamespaceBackend;

  beforeAll(async () => {
    backend = createRootNamespaceBackend({ dns: { lookup: () => undefined }, conntrackEvents: false });
    await backend.start();
    await backend.createSandbox('sb');
  });

  afterAll(async () => {
    await backend?.stop();
  });

  it('finds TCP and UDP original destinations', async () => {
    expect(backend.originalDestinationStats().method).toBe('proc-table');
    backend.tcpServer.on('connection', (socket: net.Socket) => {
      socket.on('error', () => socket.destroy());
      void backend.originalDestination(socket).then((d) => socket.end(`${d?.ip}:${d?.port}\n`));
    });
    backend.udpSocket.on('message', (_m, rinfo) => {
      void backend.originalDestinationForDatagram(rinfo).then((d) => backend.udpSocket.send(`${d?.ip}:${d?.port}`, rinfo.port, rinfo.address));
    });
    const tcp = await backend.exec('sb', [process.execPath, '-e', `require('net').connect(8443,'198.18.5.6').on('data',d=>process.stdout.write(d))`], { timeoutMs: 5000 });
    expect(tcp.stdout).toBe('198.18.5.6:8443\n');
    const udp = await backend.exec(
      'sb',
      [process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.on('message',m=>{process.stdout.write(m);s.close()});s.send('x',4433,'198.18.0.77')`],
      { timeoutMs: 5000 },
    );
    expect(udp.stdout).toBe('198.18.0.77:4433');
  });
});
