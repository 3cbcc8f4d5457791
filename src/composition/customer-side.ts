import type { Logger } from '../log.js';
import { defaultCustomerDns, startCustomerServices, type CustomerServices } from '../test-proxy/customer-services.js';
import { createTestProxy, defaultTestProxyUsers, type TestProxy } from '../test-proxy/proxy.js';
import type { EmulatorSettings } from './options.js';
import type { StopStack } from './stop-stack.js';

export interface CustomerSide {
  customerServices: CustomerServices | undefined;
  proxy: TestProxy | undefined;
}

/** The customer side: the services behind the test proxy, and the proxy itself (neither with `testProxy: false`). */
export async function startCustomerSide({ testProxy, logger }: Pick<EmulatorSettings, 'testProxy'> & { logger: Logger }, stops: StopStack): Promise<CustomerSide> {
  if (testProxy === false) return { customerServices: undefined, proxy: undefined };
  const customerServices = await startCustomerServices({ logger });
  stops.push(() => customerServices.stop());
  const proxy = await createTestProxy({
    port: testProxy.port ?? 0,
    users: testProxy.users ?? defaultTestProxyUsers,
    customerDns: defaultCustomerDns(customerServices),
    directIps: 'loopback',
    logger,
  });
  stops.push(() => proxy.stop());
  return { customerServices, proxy };
}
