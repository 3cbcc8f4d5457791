/** Transparent interception on Linux (root network namespaces): the surface the gateway uses. */
export { createRootNamespaceBackend, RootNamespaceBackend, sandboxResolverPort, type RootNamespaceBackendOptions } from './root-backend.js';
export { detectTransparentSupport } from './detect.js';
export { reapDeadInstances, type ReapResult } from './reap.js';
