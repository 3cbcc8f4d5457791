import { EmulatorError } from '../errors.js';
import { goQuote } from '../go/quote.js';
import { appendCertsFromPemOk, sshPrivateKeyError, x509KeyPairError } from './credential-material.js';
import type { Store } from '../store/db.js';
import type { CredentialSourceMetadata, CredentialSourceSpec } from '../store/credential-sources.js';
import type { ControlPlaneEvents } from './events.js';
import { currentTeamId } from './team-context.js';

/** The write model after JSON decoding (CredentialSourceWriteRequest; storageKind/externalRef are platform-only). */
export interface CredentialSourceWrite {
  name?: string;
  resolverKind?: string;
  storageKind?: string;
  /** Any object (even `{}`) means "set", as upstream's *CredentialSourceExternalRefSpec. */
  externalRef?: unknown;
  spec?: CredentialSourceSpec;
}

/**
 * Upstream's validation order (credentialsource/service.go): name, storage fields, then the spec of
 * the kind, then unsupported kinds. Returns the message or undefined. Never echoes a secret.
 */
export function validateCredentialSource(w: CredentialSourceWrite): string | undefined {
  const name = (w.name ?? '').trim();
  if (name === '') return 'credential source name is required';
  if (name.includes('/')) return 'credential source name must not contain /';
  if ((w.storageKind ?? '').trim() !== '') return 'credential source storage backend is configured by the platform';
  if (w.externalRef !== undefined) return 'credential source externalRef is configured by the platform';
  const spec = w.spec ?? {};
  const blank = (s: string | undefined) => (s ?? '').trim() === '';
  switch (w.resolverKind) {
    case 'static_headers':
      if (!spec.staticHeaders) return 'static_headers spec is required';
      return undefined;
    case 'static_username_password':
      if (!spec.staticUsernamePassword) return 'static_username_password spec is required';
      if (blank(spec.staticUsernamePassword.username)) return 'static_username_password username is required';
      if (blank(spec.staticUsernamePassword.password)) return 'static_username_password password is required';
      return undefined;
    case 'static_tls_client_certificate':
      if (!spec.staticTLSClientCertificate) return 'static_tls_client_certificate spec is required';
      if (blank(spec.staticTLSClientCertificate.certificatePem)) return 'static_tls_client_certificate certificatePem is required';
      if (blank(spec.staticTLSClientCertificate.privateKeyPem)) return 'static_tls_client_certificate privateKeyPem is required';
      {
        const { certificatePem = '', privateKeyPem = '', caPem = '' } = spec.staticTLSClientCertificate;
        const pairError = x509KeyPairError(certificatePem, privateKeyPem);
        if (pairError) return `static_tls_client_certificate keypair is invalid: ${pairError}`;
        if (caPem.trim() !== '' && !appendCertsFromPemOk(caPem.trim())) return 'static_tls_client_certificate caPem is invalid';
      }
      return undefined;
    case 'static_ssh_private_key':
      if (!spec.staticSSHPrivateKey) return 'static_ssh_private_key spec is required';
      if (blank(spec.staticSSHPrivateKey.privateKeyPem)) return 'static_ssh_private_key privateKeyPem is required';
      {
        const keyError = sshPrivateKeyError(spec.staticSSHPrivateKey.privateKeyPem ?? '', (spec.staticSSHPrivateKey.passphrase ?? '').trim() === '' ? '' : (spec.staticSSHPrivateKey.passphrase ?? ''));
        if (keyError) return `static_ssh_private_key privateKeyPem is invalid: ${keyError}`;
      }
      return undefined;
    default:
      return `credential source resolver_kind ${goQuote(w.resolverKind ?? '')} is not supported`;
  }
}

/** Only the part of the spec that belongs to the kind is kept (and sealed). */
function specForKind(kind: string, spec: CredentialSourceSpec): CredentialSourceSpec {
  switch (kind) {
    case 'static_headers':
      return { staticHeaders: spec.staticHeaders };
    case 'static_username_password':
      return { staticUsernamePassword: spec.staticUsernamePassword };
    case 'static_tls_client_certificate':
      return { staticTLSClientCertificate: spec.staticTLSClientCertificate };
    default:
      return { staticSSHPrivateKey: spec.staticSSHPrivateKey };
  }
}

export interface CredentialSourceService {
  list(): CredentialSourceMetadata[];
  get(name: string): CredentialSourceMetadata;
  create(w: CredentialSourceWrite): CredentialSourceMetadata;
  update(name: string, w: CredentialSourceWrite): CredentialSourceMetadata;
  delete(name: string): void;
}

export function createCredentialSourceService(deps: { store: Store; events: ControlPlaneEvents; now: () => Date }): CredentialSourceService {
  const { store, events, now } = deps;
  const notFound = () => new EmulatorError('credential_source_not_found', 'credential source not found');

  return {
    list: () => store.credentialSources.list(currentTeamId()),
    get(name) {
      const team = currentTeamId();
      const meta = store.credentialSources.get(team, name);
      if (!meta) throw notFound();
      return meta;
    },
    create(w) {
      const invalid = validateCredentialSource(w);
      if (invalid) throw new EmulatorError('invalid_credential_source', `failed to create credential source: ${invalid}`);
      const name = w.name!.trim();
      const team = currentTeamId();
      return store.transaction(() => {
        if (store.credentialSources.get(team, name)) throw new EmulatorError('credential_source_exists', 'credential source already exists');
        return store.credentialSources.create(team, name, w.resolverKind!, specForKind(w.resolverKind!, w.spec!), now().toISOString());
      });
    },
    update(name, w) {
      const team = currentTeamId();
      const existing = store.credentialSources.get(team, name);
      if (!existing) throw notFound();
      const write = { ...w, name };
      if ((write.resolverKind ?? '') !== existing.resolverKind) {
        throw new EmulatorError('invalid_credential_source', 'failed to update credential source: credential source resolver_kind is immutable');
      }
      const invalid = validateCredentialSource(write);
      if (invalid) throw new EmulatorError('invalid_credential_source', `failed to update credential source: ${invalid}`);
      const meta = store.transaction(() => {
        const updated = store.credentialSources.addVersion(team, name, specForKind(existing.resolverKind, write.spec!), now().toISOString());
        store.bindings.repin(team, name, updated.currentVersion);
        // Every binding now pins the new version: older sealed secrets are kept only while pinned.
        store.credentialSources.pruneVersions(team, name);
        return updated;
      });
      events.emit('source-rotated', name, meta.currentVersion);
      return meta;
    },
    delete(name) {
      const team = currentTeamId();
      store.transaction(() => {
        if (store.bindings.referenced(team, name)) {
          throw new EmulatorError('credential_source_in_use', 'credential source is still referenced by sandbox bindings');
        }
        store.credentialSources.delete(team, name);
      });
      events.emit('source-deleted', name);
    },
  };
}
