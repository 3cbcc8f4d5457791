/** Traffic classification: pure functions over the first client bytes (TCP) or one datagram (UDP). */
export { classifyTcp, defaultHeaderLimit, tcpMatchers, type ClassifyTcpOptions } from './classify-tcp.js';
export { classifyUdp, type ClassifyUdpOptions } from './classify-udp.js';
export type { Classification, ProtocolMatch, ProtocolMatcher, TcpClassification } from './protocol-match.js';
export { QuicCryptoReassembler, defaultQuicReassembly, type QuicCryptoReassemblerOptions } from './quic-crypto-reassembler.js';
export { extractQuicClientHello, type QuicClientHelloResult } from './quic-sni.js';
export { parseClientHelloBody, parseTlsClientHelloRecords, type ClientHelloInfo } from './tls-client-hello.js';
