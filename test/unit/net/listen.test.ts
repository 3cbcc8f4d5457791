import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../../../src/net/listen.js';

const servers: net.Server[] = [];
const server = () => {
  const s = net.createServer();
  servers.push(s);
  return s;
};

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
});

describe('listen', () => {
  it('resolves with the bound address and leaves no error listener behind', async () => {
    const s = server();
    const bound = await listen(s, { host: '127.0.0.1', port: 0 });
    expect(bound).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(bound.port).toBeGreaterThan(0);
    expect(s.listenerCount('error')).toBe(0);
  });

  it('rejects with the listen error (a taken port) instead of emitting it', async () => {
    const taken = await listen(server(), { host: '127.0.0.1', port: 0 });
    await expect(listen(server(), { host: '127.0.0.1', port: taken.port, exclusive: true })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
