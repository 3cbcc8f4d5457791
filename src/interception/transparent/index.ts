/** Transparent interception on Linux (root network namespaces): the surface the gateway uses. */
export { createRootNamespaceBackend, RootNamespaceBackend, sandboxResolverPort, type RootNamespaceBackendOptions } from './root-backend.js';
export { detectInterception, detectRootBackend, detectRootlessBackend, detectTransparentSupport, formatDetection, type InterceptionDetection } from './detect.js';
export { createRootlessNamespaceBackend, rootlessLimitations } from './rootless-backend.js';
export { describeSandboxUser, sandboxCaPath, type SandboxUser } from './sandbox-confinement.js';
export { reapDeadInstances, type ReapResult } from './reap.js';
