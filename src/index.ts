// The library surface: named re-exports only. The emulator's pieces (store, gateway, runtime, …) are
// not part of it: the package's own tests reach them through internals.ts, which is not exported here.
export { startEmulator, type Emulator, type EmulatorOptions, type EmulatorSandbox } from './emulator.js';
export { attachOrStartEmulator, type EmulatorHandle } from './attach.js';
export { readDiscovery, discoveryVariable, type DiscoveredEmulator } from './discovery.js';
export type { Tenant } from './control-plane/team-context.js';
export type { EmulatorInfo, ComponentState } from './api/admin/emulator-routes.js';
export { adminClient, adminData, AdminApiError, type AdminClient, type AdminClientOptions, type AdminApi, type AdminData } from './api/admin/client.js';
export type { NetworkAuditEvent, NetworkAuditAttributes } from './gateway/audit.js';
export type { SandboxView, ConnectTarget, DatagramTarget, DatagramResult } from './sandbox/runtime.js';
export type { ProbeRequest, ProbeResult } from './sandbox/probe.js';
export type { DryRunRequest, DryRunResult } from './gateway/dry-run.js';
export { compilePolicy, type CompileResult, type CompileError } from './policy/compile.js';
export { compilePlatform, type PlatformSettings } from './policy/platform.js';
export { evaluate, describeDecision, type Decision, type FlowFacts, type FlowClassification, type EvaluateContext } from './policy/evaluate.js';
export { validateNetworkPolicy } from './policy/validate.js';
export type { SandboxNetworkPolicy, CredentialBinding, TrafficRule, PortSpec, ReasonCode, AppProtocol } from './policy/types.js';
export { classifyTcp, classifyUdp, QuicCryptoReassembler, type Classification, type TcpClassification } from './classify/index.js';
export { createTestProxy, type TestProxy, type TestProxyOptions, type TestProxyUser } from './test-proxy/proxy.js';
export { runScenario, loadScenario, ScenarioFailedError, type RunScenarioOptions } from './scenario/run.js';
export { parseScenario, scenarioJsonSchema, ScenarioFileError, type Scenario, type ScenarioInput, type ScenarioStep, type Expectation } from './scenario/schema.js';
export { renderScenarioText, renderJunit, type ScenarioResult, type StepResult } from './scenario/report.js';
export type { Observation, Difference } from './scenario/expectations.js';
