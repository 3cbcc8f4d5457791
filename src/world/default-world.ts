import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlatformRecords } from '../dns/views.js';
import { fixturesDir } from '../paths.js';
import type { PlatformSettings } from '../policy/platform.js';

/** `fixtures/world.json`: the default world's platform DNS records and platform settings. */
export interface WorldFixture {
  platformRecords: PlatformRecords;
  /** The `name:port` the default world points at the embedded test proxy. */
  proxyEndpointName: string;
  /**
   * Platform policy. As in a real cluster, the cluster DNS names are platform allowed domains, so
   * "domain rules exist" holds and the domain phase and host verification always run (reference §3.3).
   */
  platform: PlatformSettings;
}

let cached: WorldFixture | undefined;

export function loadWorldFixture(): WorldFixture {
  return (cached ??= JSON.parse(readFileSync(join(fixturesDir, 'world.json'), 'utf8')) as WorldFixture);
}

/** The platform DNS view of the default world, with the test proxy's real address filled in. */
export function defaultPlatformRecords(testProxyAddress?: string): PlatformRecords {
  const world = loadWorldFixture();
  const records: PlatformRecords = structuredClone(world.platformRecords);
  if (testProxyAddress) records[world.proxyEndpointName] = [testProxyAddress];
  return records;
}
