// A tiny OpenID Connect "provider + front proxy" for federation tests, in the role mod_auth_openidc
// plays in front of Keystone: it forwards every request to the cloud; on the federated auth URLs it
// takes `Authorization: Bearer <access token>`, looks the token up among the tokens it issued, and
// hands the claims over as OIDC-* headers (after stripping any the client sent). No outside service.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

export interface OidcProxy {
  url: string;
  /** Issues an access token for these claims (sub, email, groups: ';'-joined when a list). */
  issue(claims: Record<string, string | string[]>): string;
  close(): Promise<void>;
}

export async function startOidcProxy(target: string, issuer = 'https://oidc.test/'): Promise<OidcProxy> {
  const tokens = new Map<string, Record<string, string>>();
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!/^oidc-/i.test(k) && k !== 'host') headers[k] = v;
    if (/\/OS-FEDERATION\/identity_providers\/[^/]+\/protocols\/[^/]+\/(auth|websso)/.test(req.url ?? '')) {
      const m = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ''));
      const claims = m ? tokens.get(m[1]!.trim()) : undefined;
      if (!claims) {
        res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
        res.end(JSON.stringify({ error: 'invalid_token' }));
        req.resume();
        return;
      }
      for (const [k, v] of Object.entries(claims)) headers[`oidc-${k}`] = v;
      headers['oidc-iss'] = issuer;
      delete headers.authorization;
    }
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    out.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    issue(claims) {
      const t = randomBytes(24).toString('base64url');
      tokens.set(
        t,
        Object.fromEntries(Object.entries(claims).map(([k, v]) => [k, Array.isArray(v) ? v.join(';') : v])),
      );
      return t;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
