// Classifier throughput: ClientHello parse/s (target >= 300,000/s) and QUIC Initial SNI extraction/s
// (target >= 20,000/s). Baseline in the same run: httptoolkit's read-tls-client-hello on the same
// ClientHellos. Imports the built code (npm run build). Every loop is bounded in time and count.
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { getExtensionData, readTlsClientHello } from 'read-tls-client-hello';
import { classifyTcp } from '../dist/classify/classify-tcp.js';
import { classifyUdp } from '../dist/classify/classify-udp.js';
import { extractQuicClientHello } from '../dist/classify/quic-sni.js';
import { parseTlsClientHelloRecords } from '../dist/classify/tls-client-hello.js';

const fixture = (name) => JSON.parse(readFileSync(new URL(`../fixtures/handshakes/${name}`, import.meta.url), 'utf8'));
const hellos = fixture('captured-client-hellos.json').map((c) => Buffer.from(c.hex, 'hex'));
const vectors = fixture('rfc-quic-initial-vectors.json');
const quicPackets = [Buffer.from(vectors.v1.packet, 'hex'), Buffer.from(vectors.v2.packet, 'hex')];
// Cold path: every packet of a new connection (its own DCID), so no key is reused. 1024 distinct
// DCIDs cycle through a 256-entry key memo, so every extraction derives its keys afresh.
const coldPackets = makeColdPackets(1024);

const budgetMs = 1_500;
const maxIterations = 50_000_000;

function measure(name, fn) {
  for (let i = 0; i < 2_000; i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let n = 0;
  let sink = 0;
  while (n < maxIterations) {
    for (let j = 0; j < 256; j++, n++) sink += fn(n) ? 1 : 0;
    if (process.hrtime.bigint() >= deadline) break;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = n / seconds;
  console.log(`${name.padEnd(58)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} /s  (${n} runs, sink ${sink > 0})`);
  return rate;
}

async function measureAsync(name, fn) {
  for (let i = 0; i < 200; i++) await fn(i);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let n = 0;
  while (n < maxIterations) {
    for (let j = 0; j < 64; j++, n++) await fn(n);
    if (process.hrtime.bigint() >= deadline) break;
  }
  const rate = n / (Number(process.hrtime.bigint() - start) / 1e9);
  console.log(`${name.padEnd(58)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} /s  (${n} runs)`);
  return rate;
}

async function oracle(bytes) {
  const stream = new PassThrough();
  stream.end(bytes);
  const hello = await readTlsClientHello(stream);
  return getExtensionData(hello, 'server_name')?.serverName;
}

// Sanity: the inputs are what we think they are.
for (const h of hellos) if (parseTlsClientHelloRecords(h).kind !== 'ok') throw new Error('fixture does not parse');
for (const p of [...quicPackets, ...coldPackets.slice(0, 4)]) {
  if (extractQuicClientHello(p).hello?.serverName !== 'example.com') throw new Error('QUIC packet does not decode');
}

console.log(`inputs: ${hellos.length} captured ClientHellos (${hellos.map((h) => h.length).join(', ')} bytes), RFC 9001/9369 Initials (1200 bytes)`);
const ours = measure('ClientHello parse (parseTlsClientHelloRecords)', (i) => parseTlsClientHelloRecords(hellos[i % hellos.length]).kind === 'ok');
const full = measure('classifyTcp on the same ClientHellos (ordered, all rules)', (i) => classifyTcp(hellos[i % hellos.length]).kind !== 'need-more');
const baseline = await measureAsync('baseline: read-tls-client-hello on the same input', (i) => oracle(hellos[i % hellos.length]));
const quic = measure('QUIC Initial SNI extraction, new connections (cold keys)', (i) => extractQuicClientHello(coldPackets[i % coldPackets.length]).kind === 'client-hello');
const quicWarm = measure('QUIC Initial SNI extraction, same connection (memo keys)', (i) => extractQuicClientHello(quicPackets[i % 2]).kind === 'client-hello');
const udp = measure('classifyUdp on the cold Initials (TLS try, then QUIC)', (i) =>
  classifyUdp(coldPackets[i % coldPackets.length], { domainRulesExist: true, dst: '198.18.0.1:443' }).kind === 'known');

console.log('');
console.log(`ClientHello parse vs read-tls-client-hello: ${(ours / baseline).toFixed(1)}x  (target 300,000/s: ${ours >= 300_000 ? 'met' : 'NOT met'})`);
console.log(`classifyTcp vs read-tls-client-hello:       ${(full / baseline).toFixed(1)}x`);
console.log(`QUIC SNI extraction vs ClientHello parse:   ${(quic / ours).toFixed(3)}x  (target 20,000/s: ${quic >= 20_000 ? 'met' : 'NOT met'})`);
console.log(`QUIC same connection vs new connections:    ${(quicWarm / quic).toFixed(2)}x`);
console.log(`classifyUdp vs QUIC SNI extraction:         ${(udp / quic).toFixed(2)}x`);

/**
 * Seals the RFC 9001 A.2 CRYPTO frame (fixture `rfcCryptoFrame`) under fresh DCIDs with node:crypto,
 * following RFC 9001 §5, independently of the code measured.
 */
function makeColdPackets(count) {
  const frame = Buffer.from(vectors.rfcCryptoFrame, 'hex');
  const packets = [];
  for (let i = 0; i < count; i++) packets.push(sealInitial(randomBytes(8), frame));
  return packets;
}

function expandLabel(secret, label, length) {
  const full = Buffer.from(`tls13 ${label}`);
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0, 1])]);
  return createHmac('sha256', secret).update(info).digest().subarray(0, length);
}

function sealInitial(dcid, frames) {
  const salt = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
  const secret = expandLabel(createHmac('sha256', salt).update(dcid).digest(), 'client in', 32);
  const key = expandLabel(secret, 'quic key', 16);
  const iv = expandLabel(secret, 'quic iv', 12);
  const hp = expandLabel(secret, 'quic hp', 16);
  const payload = Buffer.concat([frames, Buffer.alloc(1200 - 18 - 4 - 16 - frames.length)]);
  const header = Buffer.concat([Buffer.from([0xc3, 0, 0, 0, 1, 8]), dcid, Buffer.from([0, 0]), Buffer.from([0x40 | ((payload.length + 20) >> 8), (payload.length + 20) & 0xff]), Buffer.from([0, 0, 0, 2])]);
  const nonce = Buffer.from(iv);
  nonce[11] ^= 2;
  const gcm = createCipheriv('aes-128-gcm', key, nonce);
  gcm.setAAD(header);
  const packet = Buffer.concat([header, gcm.update(payload), gcm.final(), gcm.getAuthTag()]);
  const pnOffset = header.length - 4;
  const mask = createCipheriv('aes-128-ecb', hp, null).update(packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x0f;
  for (let i = 0; i < 4; i++) packet[pnOffset + i] ^= mask[1 + i];
  return packet;
}
