import { describe, expect, it } from 'vitest';
import { claimRequestSchema, credentialSourceWriteSchema, decodeBodyWithUnknown, networkPolicySchema } from '../../../src/api/decode.js';

const decode = (text: string, schema = networkPolicySchema) => decodeBodyWithUnknown(text, schema);
const errorOf = (text: string, schema = networkPolicySchema) => {
  try {
    decode(text, schema);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
};

// Expectations taken from Go's encoding/json decoding the same bytes into upstream's structs.
describe('Go encoding/json decoding', () => {
  it('merges a repeated key into what the first one left (structs and slice elements)', () => {
    expect(decode('{"mode":"block-all","egress":{"proxy":{"type":"socks5"}},"egress":{"proxy":{"address":"a:1"}}}').value).toEqual({
      mode: 'block-all',
      egress: { proxy: { type: 'socks5', address: 'a:1' } },
    });
    expect(decode('{"egress":{"trafficRules":[{"name":"a","action":"allow"},{"name":"b"}]},"egress":{"trafficRules":[{"cidrs":["1.1.1.1/32"]}]}}').value).toEqual({
      egress: { trafficRules: [{ name: 'a', action: 'allow', cidrs: ['1.1.1.1/32'] }] },
    });
  });

  it('matches keys case-insensitively, including the runes that fold to ASCII (ſ → S, K → K)', () => {
    expect(decode('{"MODE":"allow-all","egreſs":{"deniedDomains":["a"]},"credentialBindings":[{"ref":"x","\u212aind":1}]}')).toEqual({
      value: { mode: 'allow-all', egress: { deniedDomains: ['a'] }, credentialBindings: [{ ref: 'x' }] },
      unknownFields: [{ path: 'credentialBindings[0].\u212aind' }],
    });
  });

  it('null clears pointers and slices and leaves strings as they were', () => {
    expect(decode('{"mode":"allow-all","mode":null,"egress":{"deniedDomains":["a"]},"egress":null}').value).toEqual({ mode: 'allow-all' });
    expect(decode('{"egress":{"trafficRules":[{"action":"allow","ports":[{"port":80,"endPort":null},{"port":81,"endPort":0}]}]}}').value).toEqual({
      egress: { trafficRules: [{ action: 'allow', ports: [{ port: 80 }, { port: 81, endPort: 0 }] }] },
    });
  });

  it('skips unknown values of any depth without recursion and names them with a suggestion when one is close', () => {
    const deep = `${'['.repeat(9000)}${']'.repeat(9000)}`;
    const { value, unknownFields } = decode(`{"mode":"allow-all","extra":${deep},"egress":{"trafficRule":[{"x":"}"}],"deniedDomain":["a"]}}`);
    expect(value).toEqual({ mode: 'allow-all', egress: {} });
    expect(unknownFields).toEqual([{ path: 'extra' }, { path: 'egress.trafficRule', didYouMean: 'trafficRules' }, { path: 'egress.deniedDomain', didYouMean: 'deniedDomains' }]);
  });

  it('names the innermost struct and the Go types of the claim request', () => {
    expect(errorOf('{"template":"default","config":{"ttl":"60"}}', claimRequestSchema)).toBe(
      'invalid request: json: cannot unmarshal string into Go struct field SandboxConfig.config.ttl of type int32',
    );
    expect(errorOf('{"config":{"env_vars":{"A":1}}}', claimRequestSchema)).toBe(
      'invalid request: json: cannot unmarshal number into Go struct field SandboxConfig.config.env_vars of type string',
    );
    expect(errorOf('{"config":{"network":{"mode":1}}}', claimRequestSchema)).toBe(
      'invalid request: json: cannot unmarshal number into Go struct field SandboxNetworkPolicy.config.network.mode of type v1alpha1.NetworkPolicyMode',
    );
    expect(errorOf('{"config":{"services":{}}}', claimRequestSchema)).toBe(
      'invalid request: json: cannot unmarshal object into Go struct field SandboxConfig.config.services of type []managerapi.SandboxAppService',
    );
    expect(errorOf('{"teamid":5}', claimRequestSchema)).toBe('invalid request: json: cannot unmarshal number into Go struct field ClaimRequest.TeamID of type string');
    expect(errorOf('[]', claimRequestSchema)).toBe('invalid request: json: cannot unmarshal array into Go value of type service.ClaimRequest');
    expect(errorOf('{"spec":[]}', credentialSourceWriteSchema)).toBe(
      'invalid request: json: cannot unmarshal array into Go struct field CredentialSourceWriteRequest.spec of type egressauthstore.CredentialSourceSecretSpec',
    );
  });

  it('keeps map keys that look like object internals as plain keys', () => {
    const { value } = decode('{"spec":{"staticHeaders":{"values":{"__proto__":"x","constructor":"y"}}}}', credentialSourceWriteSchema);
    const values = (value as { spec: { staticHeaders: { values: Record<string, string> } } }).spec.staticHeaders.values;
    expect(Object.keys(values)).toEqual(['__proto__', 'constructor']);
    expect(values['__proto__']).toBe('x');
  });

  it('turns lone surrogate escapes into U+FFFD, as Go', () => {
    expect(decode('{"mode":"a\\ud800b"}').value).toEqual({ mode: 'a\ufffdb' });
  });
});

describe('null slice elements', () => {
  it('decode to the zero value of the element type, as Go leaves them', () => {
    expect(decode('{"egress":{"trafficRules":[null,{"action":"allow","cidrs":[null,"a"],"ports":[null]}]}}').value).toEqual({
      egress: { trafficRules: [{}, { action: 'allow', cidrs: ['', 'a'], ports: [{}] }] },
    });
  });
});

describe('many unknown keys', () => {
  it('are all reported, with suggestions (an edit distance per field each) for the first ten only', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `"mod${i % 10}${'x'.repeat(40)}":1`).join(',');
    const { unknownFields } = decode(`{"mode":"allow-all","egresss":{},${keys}}`);
    expect(unknownFields).toHaveLength(20_001);
    expect(unknownFields[0]).toEqual({ path: 'egresss', didYouMean: 'egress' });
    expect(unknownFields.slice(10).every((f) => f.didYouMean === undefined)).toBe(true);
  });
});
