// @ts-check
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
import { figure, median, runsFrom, spread, verdict } from './lib/stats.mjs';

const fixture = (name) => JSON.parse(readFileSync(new URL(`../fixtures/handshakes/${name}`, import.meta.url), 'utf8'));
const hellos = fixture('captured-client-hellos.json').map((c) => Buffer.from(c.hex, 'hex'));
const vectors = fixture('rfc-quic-initial-vectors.json');
const quicPackets = [Buffer.from(vectors.v1.packet, 'hex'), Buffer.from(vectors.v2.packet, 'hex')];
// Cold path: every packet of a new connection (its own DCID), so no key is reused. 1024 distinct
// DCIDs cycle through a 256-entry key memo, so every extraction derives its keys afresh.
const coldPackets = makeColdPackets(1024);

// Each figure is the median of RUNS runs (min–max shown), the runs of every figure interleaved so
// that load from elsewhere hits them alike. Env: CLASSIFY_BENCH_RUNS (default 5, at least 5),
// CLASSIFY_BENCH_MS (time budget per run, default 500 ms).
const RUNS = runsFrom(process.env.CLASSIFY_BENCH_RUNS);
const budgetMs = Math.max(50, Number(process.env.CLASSIFY_BENCH_MS ?? 500));
const maxIterations = 50_000_000;
let sink = 0;

function warm(fn) {
  for (let i = 0; i < 2_000; i++) sink += fn(i) ? 1 : 0;
}

/** One run: calls per second of `fn` over `budgetMs`. */
function measure(fn) {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let n = 0;
  while (n < maxIterations) {
    for (let j = 0; j < 256; j++, n++) sink += fn(n) ? 1 : 0;
    if (process.hrtime.bigint() >= deadline) break;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function warmAsync(fn) {
  for (let i = 0; i < 200; i++) await fn(i);
}

async function measureAsync(fn) {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let n = 0;
  while (n < maxIterations) {
    for (let j = 0; j < 64; j++, n++) await fn(n);
    if (process.hrtime.bigint() >= deadline) break;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
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
  const r = extractQuicClientHello(p);
  if ((r.kind === 'client-hello' ? r.hello.serverName : undefined) !== 'example.com') throw new Error('QUIC packet does not decode');
}

console.log(`inputs: ${hellos.length} captured ClientHellos (${hellos.map((h) => h.length).join(', ')} bytes), RFC 9001/9369 Initials (1200 bytes)`);
console.log(`${RUNS} runs of ${budgetMs} ms per figure, interleaved`);
/** @type {[key: string, label: string, fn: (i: number) => unknown, isAsync?: boolean][]} */
const cases = [
  ['ours', 'ClientHello parse (parseTlsClientHelloRecords)', (i) => parseTlsClientHelloRecords(hellos[i % hellos.length]).kind === 'ok'],
  ['full', 'classifyTcp on the same ClientHellos (ordered, all rules)', (i) => classifyTcp(hellos[i % hellos.length]).kind !== 'need-more'],
  ['baseline', 'baseline: read-tls-client-hello on the same input', (i) => oracle(hellos[i % hellos.length]), true],
  ['quic', 'QUIC Initial SNI extraction, new connections (cold keys)', (i) => extractQuicClientHello(coldPackets[i % coldPackets.length]).kind === 'client-hello'],
  ['quicWarm', 'QUIC Initial SNI extraction, same connection (memo keys)', (i) => extractQuicClientHello(quicPackets[i % 2]).kind === 'client-hello'],
  ['udp', 'classifyUdp on the cold Initials (TLS try, then QUIC)', (i) => classifyUdp(coldPackets[i % coldPackets.length], { domainRulesExist: true, dst: '198.18.0.1:443' }).kind === 'known'],
];
/** @type {Record<string, number[]>} */
const rates = Object.fromEntries(cases.map(([key]) => [key, []]));
for (const [, , fn, isAsync] of cases) await (isAsync ? warmAsync(fn) : warm(fn));
for (let r = 0; r < RUNS; r++) {
  for (const [key, , fn, isAsync] of cases) rates[key].push(isAsync ? await measureAsync(fn) : measure(fn));
}
const perSec = (x) => `${Math.round(x).toLocaleString('en-US')}/s`;
for (const [key, label] of cases) console.log(`${label.padEnd(58)} ${spread(rates[key], perSec)}`);
const { ours, full, baseline, quic, quicWarm, udp } = Object.fromEntries(Object.entries(rates).map(([k, xs]) => [k, median(xs)]));

console.log('');
console.log(`ClientHello parse vs read-tls-client-hello: ${(ours / baseline).toFixed(1)}x  (target 300,000/s: ${ours >= 300_000 ? 'met' : 'NOT met'})`);
console.log(`classifyTcp vs read-tls-client-hello:       ${(full / baseline).toFixed(1)}x`);
console.log(`QUIC SNI extraction vs ClientHello parse:   ${(quic / ours).toFixed(3)}x  (target 20,000/s: ${quic >= 20_000 ? 'met' : 'NOT met'})`);
console.log(`QUIC same connection vs new connections:    ${(quicWarm / quic).toFixed(2)}x`);
console.log(`classifyUdp vs QUIC SNI extraction:         ${(udp / quic).toFixed(2)}x`);
const readTls = { name: 'read-tls-client-hello, same ClientHellos', samples: rates.baseline, unit: '/s' };
verdict('ClientHello parse ≥ 300,000/s', ours >= 300_000, `median ${perSec(ours)}, ${(ours / baseline).toFixed(1)}x read-tls-client-hello`, {
  figure: 'ClientHello parse (parseTlsClientHelloRecords)',
  samples: rates.ours,
  unit: '/s',
  baseline: readTls,
  target: '≥ 300,000/s',
});
verdict('QUIC Initial SNI extraction ≥ 20,000/s', quic >= 20_000, `median ${perSec(quic)}, ${(quic / ours).toFixed(3)}x ClientHello parse`, {
  figure: 'QUIC Initial SNI extraction, new connections (cold keys)',
  samples: rates.quic,
  unit: '/s',
  baseline: { name: 'ClientHello parse, same run', samples: rates.ours, unit: '/s' },
  target: '≥ 20,000/s',
});
figure('classifyTcp on the same ClientHellos', { samples: rates.full, unit: '/s', baseline: readTls });
figure('QUIC SNI extraction, same connection (memo keys)', { samples: rates.quicWarm, unit: '/s', baseline: { name: 'new connections (cold keys)', samples: rates.quic, unit: '/s' } });
figure('classifyUdp on the cold Initials', { samples: rates.udp, unit: '/s', baseline: { name: 'QUIC SNI extraction (cold keys)', samples: rates.quic, unit: '/s' } });
if (sink === -1) console.log('unreachable'); // keeps the results alive

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
