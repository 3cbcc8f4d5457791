import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomicPrivateSync } from './write-file-atomic-private.js';
import { EmulatorError } from '../errors.js';

/** AES-256-GCM sealing of credential secrets at rest. Layout: version(1) | iv(12) | tag(16) | ciphertext. */
const FormatVersion = 1;
const KeyBytes = 32;
const IvBytes = 12;
const TagBytes = 16;

export interface SecretBox {
  seal(plaintext: string, associatedData: string): Buffer;
  open(sealed: Buffer, associatedData: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KeyBytes) throw new EmulatorError('store_key_invalid', `encryption key must be ${KeyBytes} bytes`);
  return {
    seal(plaintext, associatedData) {
      const iv = randomBytes(IvBytes);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([FormatVersion]), iv, cipher.getAuthTag(), body]);
    },
    open(sealed, associatedData) {
      if (sealed.length < 1 + IvBytes + TagBytes || sealed[0] !== FormatVersion) {
        throw new EmulatorError('secret_corrupt', 'stored secret has an unknown format');
      }
      const iv = sealed.subarray(1, 1 + IvBytes);
      const tag = sealed.subarray(1 + IvBytes, 1 + IvBytes + TagBytes);
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(sealed.subarray(1 + IvBytes + TagBytes)), decipher.final()]).toString('utf8');
      } catch (err) {
        throw new EmulatorError('secret_corrupt', 'stored secret could not be decrypted (wrong key file?)', { cause: err });
      }
    },
  };
}

/** Reads the key file, or creates it with mode 0600 when it does not exist yet. */
export function loadOrCreateKey(path: string): Buffer {
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== KeyBytes) throw new EmulatorError('store_key_invalid', `key file ${path} does not hold a ${KeyBytes}-byte key`);
    return key;
  }
  const key = randomBytes(KeyBytes);
  // Never replaces a key another start wrote first: that one seals what is stored.
  writeFileAtomicPrivateSync(path, key.toString('base64') + '\n', { replace: false });
  return key;
}
