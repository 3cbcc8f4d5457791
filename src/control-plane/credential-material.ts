/**
 * The checks upstream's credential source service runs on TLS client certificate material
 * (manager/pkg/credentialsource/service.go: tls.X509KeyPair, then x509.CertPool.AppendCertsFromPEM for
 * the CA), with the texts Go's crypto/tls returns. PEM is read as Go's encoding/pem.Decode reads it;
 * certificates and keys are parsed with node:crypto. Pure apart from node:crypto; never echoes material.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { goQuote } from '../go/quote.js';

interface PemBlock {
  type: string;
  headers: Map<string, string>;
  bytes: Buffer;
}

const PEM_START = '\n-----BEGIN ';
const PEM_END = '\n-----END ';
const PEM_END_OF_LINE = '-----';

/** Go's pem getLine: up to the next \n, trailing spaces, tabs and \r removed. */
function getLine(data: string): [string, string] {
  const i = data.indexOf('\n');
  const line = i < 0 ? data : data.slice(0, i);
  const rest = i < 0 ? '' : data.slice(i + 1);
  return [line.replace(/[ \t\r]+$/, ''), rest];
}

/** base64.StdEncoding.Decode: padding required, \r and \n ignored. */
function stdBase64(text: string): Buffer | undefined {
  const clean = text.replace(/[\r\n]/g, '');
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(clean)) return undefined;
  return Buffer.from(clean, 'base64');
}

/** Go's pem.Decode: the next valid block and what follows it, or undefined. */
function pemDecode(data: string): { block: PemBlock; rest: string } | undefined {
  let rest = data;
  for (;;) {
    if (rest.startsWith(PEM_START.slice(1))) rest = rest.slice(PEM_START.length - 1);
    else {
      const at = rest.indexOf(PEM_START);
      if (at < 0) return undefined;
      rest = rest.slice(at + PEM_START.length);
    }
    let typeLine: string;
    [typeLine, rest] = getLine(rest);
    if (!typeLine.endsWith(PEM_END_OF_LINE)) continue;
    typeLine = typeLine.slice(0, -PEM_END_OF_LINE.length);
    const headers = new Map<string, string>();
    for (;;) {
      if (rest.length === 0) return undefined;
      const [line, next] = getLine(rest);
      const colon = line.indexOf(':');
      if (colon < 0) break;
      headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      rest = next;
    }
    let endIndex: number;
    let endTrailerIndex: number;
    if (headers.size === 0 && rest.startsWith(PEM_END.slice(1))) {
      endIndex = 0;
      endTrailerIndex = PEM_END.length - 1;
    } else {
      endIndex = rest.indexOf(PEM_END);
      endTrailerIndex = endIndex + PEM_END.length;
    }
    if (endIndex < 0) continue;
    const trailerLen = typeLine.length + PEM_END_OF_LINE.length;
    const endTrailer = rest.slice(endTrailerIndex);
    if (endTrailer.length < trailerLen) continue;
    const restOfEndLine = endTrailer.slice(trailerLen);
    const trailer = endTrailer.slice(0, trailerLen);
    if (!trailer.startsWith(typeLine) || !trailer.endsWith(PEM_END_OF_LINE)) continue;
    if (getLine(restOfEndLine)[0].length !== 0) continue;
    const bytes = stdBase64(rest.slice(0, endIndex).replace(/[ \t]/g, ''));
    if (!bytes) continue;
    return { block: { type: typeLine, headers, bytes }, rest: getLine(rest.slice(endIndex + PEM_END.length - 1))[1] };
  }
}

function pemBlocks(data: string): PemBlock[] {
  const out: PemBlock[] = [];
  let rest = data;
  for (let next = pemDecode(rest); next; next = pemDecode(rest)) {
    out.push(next.block);
    rest = next.rest;
  }
  return out;
}

/** Go's %v of a []string: `[a b]`. */
const goList = (items: readonly string[]) => `[${items.join(' ')}]`;

function parseCertificate(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

/** crypto/tls parsePrivateKey: PKCS#1, then PKCS#8, then SEC 1. */
function parsePrivateKey(der: Buffer): KeyObject | undefined {
  for (const type of ['pkcs1', 'pkcs8', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch {
      // try the next encoding
    }
  }
  return undefined;
}

/** The Go key family of a key (rsa, ecdsa, ed25519), or undefined for one crypto/tls does not know. */
function family(key: KeyObject): string | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ec':
      return 'ecdsa';
    case 'ed25519':
      return 'ed25519';
    default:
      return undefined;
  }
}

/**
 * tls.X509KeyPair's error text for this certificate and key PEM, or undefined when they form a pair.
 * An unparsable certificate is reported as `x509: malformed certificate` (Go's texts for the
 * individual DER faults are finer grained).
 */
export function x509KeyPairError(certPem: string, keyPem: string): string | undefined {
  const certs: Buffer[] = [];
  const skipped: string[] = [];
  for (const block of pemBlocks(certPem)) {
    if (block.type === 'CERTIFICATE') certs.push(block.bytes);
    else skipped.push(block.type);
  }
  if (certs.length === 0) {
    if (skipped.length === 0) return 'tls: failed to find any PEM data in certificate input';
    if (skipped.length === 1 && skipped[0]!.endsWith('PRIVATE KEY')) {
      return 'tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched';
    }
    return `tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: ${goList(skipped)}`;
  }
  const skippedKeys: string[] = [];
  let keyDer: Buffer | undefined;
  for (const block of pemBlocks(keyPem)) {
    if (block.type === 'PRIVATE KEY' || block.type.endsWith(' PRIVATE KEY')) {
      keyDer = block.bytes;
      break;
    }
    skippedKeys.push(block.type);
  }
  if (!keyDer) {
    if (skippedKeys.length === 0) return 'tls: failed to find any PEM data in key input';
    if (skippedKeys.length === 1 && skippedKeys[0] === 'CERTIFICATE') return 'tls: found a certificate rather than a key in the PEM for the private key';
    return `tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: ${goList(skippedKeys)}`;
  }
  const cert = parseCertificate(certs[0]!);
  if (!cert) return 'x509: malformed certificate';
  const privateKey = parsePrivateKey(keyDer);
  if (!privateKey) return 'tls: failed to parse private key';
  const publicFamily = family(cert.publicKey);
  if (!publicFamily) return 'tls: unknown public key algorithm';
  if (family(privateKey) !== publicFamily) return 'tls: private key type does not match public key type';
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(privateKey)).equals(spki(cert.publicKey))) return 'tls: private key does not match public key';
  return undefined;
}

/** x509.CertPool.AppendCertsFromPEM: true when at least one CERTIFICATE block (without headers) parses. */
export function appendCertsFromPemOk(pem: string): boolean {
  return pemBlocks(pem).some((b) => b.type === 'CERTIFICATE' && b.headers.size === 0 && parseCertificate(b.bytes) !== undefined);
}

const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/** The cipher and KDF names of an openssh-key-v1 blob, or undefined when it is not one. */
function opensshCipher(blob: Buffer): { cipher: string; kdf: string } | undefined {
  if (blob.length < OPENSSH_MAGIC.length || !blob.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) return undefined;
  let at = OPENSSH_MAGIC.length;
  const readString = (): string | undefined => {
    if (at + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return undefined;
    const out = blob.subarray(at + 4, at + 4 + len).toString('latin1');
    at += 4 + len;
    return out;
  };
  const cipher = readString();
  const kdf = readString();
  return cipher === undefined || kdf === undefined ? undefined : { cipher, kdf };
}

/** PEM block types golang.org/x/crypto/ssh (v0.47, upstream's) parses as private keys. */
const sshKeyTypes = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);

/**
 * The errors of ssh.ParsePrivateKey / ParsePrivateKeyWithPassphrase that come before the key itself is
 * parsed: no PEM block, a passphrase-protected key without a passphrase, an unsupported block type, a
 * passphrase for a key that is not encrypted. undefined otherwise (the key's own encoding is not
 * checked: x509's texts for broken DER are not reproduced; README difference table).
 */
export function sshPrivateKeyError(pem: string, passphrase: string): string | undefined {
  const first = pemDecode(pem)?.block;
  if (!first) return 'ssh: no key found';
  const encryptedPem = (first.headers.get('Proc-Type') ?? '').includes('ENCRYPTED');
  if (passphrase !== '') {
    if (first.type === 'OPENSSH PRIVATE KEY') return undefined;
    // x509.IsEncryptedPEMBlock also needs a DEK-Info header.
    if (!encryptedPem || !first.headers.has('DEK-Info')) return 'ssh: not an encrypted key';
    return undefined;
  }
  if (encryptedPem) return 'ssh: this private key is passphrase protected';
  if (first.type === 'DSA PRIVATE KEY') return undefined; // support differs between x/crypto versions
  if (!sshKeyTypes.has(first.type)) return `ssh: unsupported key type ${goQuote(first.type)}`;
  if (first.type === 'OPENSSH PRIVATE KEY') {
    const names = opensshCipher(first.bytes);
    if (names && (names.cipher !== 'none' || names.kdf !== 'none')) return 'ssh: this private key is passphrase protected';
  }
  return undefined;
}
