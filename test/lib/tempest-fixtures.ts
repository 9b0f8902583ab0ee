// What the tests of the tempest harness (conformance/lib) share: a catalog endpoint, the admin's
// credentials, and the reading side of the ini files the harness renders.
import type { CloudCredentials } from '../../conformance/lib/tempest-config.ts';

/** An endpoint of a token's catalog. */
export const catalogEndpoint = (url: string, iface = 'public', region = 'RegionOne') => ({
  interface: iface,
  url,
  region,
  region_id: region,
});

/** The admin of a cloud at 127.0.0.1:8000 (DevStack's names). */
export const adminCredentials = (password: string): CloudCredentials => ({
  authUrl: 'http://127.0.0.1:8000/identity/v3',
  username: 'admin',
  password,
  projectName: 'admin',
  userDomainName: 'Default',
  projectDomainName: 'Default',
  regionName: 'RegionOne',
});

/** Parses rendered ini back into section → key → value (the reading side of oslo.config's format). */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      cur = out[sec[1]!] = {};
      continue;
    }
    const kv = /^([^=]+?) = (.*)$/.exec(line);
    if (kv && cur) cur[kv[1]!] = kv[2]!;
  }
  return out;
}
