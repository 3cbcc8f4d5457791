import { PassThrough } from 'node:stream';
import { getExtensionData, readTlsClientHello } from 'read-tls-client-hello';

/** SNI and ALPN as httptoolkit's read-tls-client-hello reads them: the oracle for our parser. */
export async function oracleHello(bytes: Buffer): Promise<{ serverName: string | undefined; alpn: string[] | undefined }> {
  const stream = new PassThrough();
  stream.end(bytes);
  const hello = await readTlsClientHello(stream);
  return {
    serverName: getExtensionData(hello, 'server_name')?.serverName,
    alpn: getExtensionData(hello, 'application_layer_protocol_negotiation')?.protocols,
  };
}
