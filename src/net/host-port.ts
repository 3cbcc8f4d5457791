import { joinHostPort } from '../go/net.js';

/** A host (name or IP literal, without brackets) and a port. */
export interface HostPort {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port`; a bare host when `defaultPort` is given. */
export function parseHostPort(text: string, defaultPort?: number): HostPort | undefined {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([^:\s]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m || !m[1]) return undefined;
  const port = m[2] !== undefined ? Number(m[2]) : defaultPort;
  if (port === undefined || port > 65535) return undefined;
  return { host: m[1], port };
}

/** `host:port`, with brackets around an IPv6 host (Go's net.JoinHostPort). */
export const formatHostPort = ({ host, port }: HostPort): string => joinHostPort(host, port);
