// SAML2 for Keystone-to-Keystone: the identity provider side (a signed assertion of the caller's
// project-scoped token for a service provider, bare or wrapped for ECP; the IdP metadata) and the
// service provider side (an ECP-wrapped assertion of a trusted identity provider consumed as a
// Shibboleth front would: verified, its attributes kept in a short session that the `mapped`
// method then reads, as mod_shib hands them to Keystone in the WSGI environment).
//
// Signing is XML-DSig (RSA-SHA256, SHA-256 digest, exclusive C14N, enveloped). The XML written
// here is already in exclusive canonical form (attributes sorted, namespace declarations on the
// element that first uses them, no empty-element tags, c14n escaping), so the canonical form of
// the Assertion is its own text and no XML library is needed. The verifier accepts assertions in
// that form — the ones a Stratus identity provider issues — and refuses anything else; it is not a
// general XML-DSig verifier (a Shibboleth SP in front is, for other identity providers).
import { createHash, createSign, createVerify, randomBytes, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const NS = {
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  soap11: 'http://schemas.xmlsoap.org/soap/envelope/',
  ecp: 'urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp',
} as const;
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const ATTRNAME_URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';

const escText = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
const escAttr = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x9;/g, '\t')
    .replace(/&#xA;/g, '\n')
    .replace(/&#xD;/g, '\r')
    .replace(/&amp;/g, '&');

/**
 * An element in canonical form: namespace declarations first (by prefix), then the attributes
 * (unqualified ones, by name: every attribute written here is unqualified or soap11:-qualified),
 * children as given (already canonical strings, or text to escape).
 */
function el(
  name: string,
  attrs: Record<string, string | undefined> = {},
  children: Array<string | { text: string }> = [],
  ns: Record<string, string> = {},
): string {
  const decl = Object.keys(ns)
    .sort()
    .map((p) => ` xmlns:${p}="${escAttr(ns[p]!)}"`)
    .join('');
  const plain = Object.entries(attrs).filter((e): e is [string, string] => e[1] !== undefined);
  // c14n: unqualified attributes (no namespace URI) sort before qualified ones, then by URI + name
  plain.sort(([a], [b]) => {
    const qa = a.includes(':') ? 1 : 0;
    const qb = b.includes(':') ? 1 : 0;
    return qa - qb || (a < b ? -1 : a > b ? 1 : 0);
  });
  const at = plain.map(([k, v]) => ` ${k}="${escAttr(v)}"`).join('');
  const body = children.map((c) => (typeof c === 'string' ? c : escText(c.text))).join('');
  return `<${name}${decl}${at}>${body}</${name}>`;
}

const samlTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const newId = () => `_${randomBytes(16).toString('hex')}`;

/** The IdP's signing key and certificate, generated into `<dataDir>/saml2/` when absent. */
export interface SigningMaterial {
  keyPem: string;
  certPem: string;
}

/**
 * The signing key and certificate: the configured files, or `<dir>/signing_cert.pem` and
 * `<dir>/signing_key.pem`, generated (openssl, self-signed, 10 years) when absent.
 */
export function ensureSigningMaterial(dir: string, o: { certfile?: string; keyfile?: string } = {}): SigningMaterial {
  const certfile = o.certfile || path.join(dir, 'signing_cert.pem');
  const keyfile = o.keyfile || path.join(dir, 'signing_key.pem');
  if (!fs.existsSync(certfile) || !fs.existsSync(keyfile)) {
    if (o.certfile || o.keyfile) throw new Error(`SAML signing certificate or key missing: ${certfile}, ${keyfile}`);
    generateSigningMaterial(certfile, keyfile);
  }
  return { certPem: fs.readFileSync(certfile, 'utf8'), keyPem: fs.readFileSync(keyfile, 'utf8') };
}

/** Generates the key pair with openssl into the given files (used when the data dir has none). */
export function generateSigningMaterial(certfile: string, keyfile: string, subject = '/CN=stratus-saml-idp') {
  fs.mkdirSync(path.dirname(certfile), { recursive: true, mode: 0o700 });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      subject,
      '-keyout',
      keyfile,
      '-out',
      certfile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
  fs.chmodSync(keyfile, 0o600);
}

/** The certificate's base64 body (what ds:X509Certificate and md:KeyDescriptor carry). */
export function certBody(certPem: string): string {
  return certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

export interface AssertionInput {
  issuer: string;
  /** The service provider's SAML entity: its auth_url (the Audience) and sp_url (the Recipient). */
  audience: string;
  recipient: string;
  subject: string;
  attributes: Record<string, string[]>;
  /** Seconds the assertion may be presented (Keystone: the token's remaining life; here at most 5 min). */
  ttlSeconds?: number;
  now?: Date;
}

/** A signed saml:Assertion in canonical form. */
export function signedAssertion(a: AssertionInput, keys: SigningMaterial): string {
  const now = a.now ?? new Date();
  const until = new Date(now.getTime() + (a.ttlSeconds ?? 300) * 1000);
  const id = newId();
  const issuer = el('saml:Issuer', { Format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity' }, [
    { text: a.issuer },
  ]);
  const subject = el('saml:Subject', {}, [
    el('saml:NameID', { Format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' }, [{ text: a.subject }]),
    el('saml:SubjectConfirmation', { Method: 'urn:oasis:names:tc:SAML:2.0:cm:bearer' }, [
      el('saml:SubjectConfirmationData', { NotOnOrAfter: samlTime(until), Recipient: a.recipient }),
    ]),
  ]);
  const conditions = el('saml:Conditions', { NotBefore: samlTime(now), NotOnOrAfter: samlTime(until) }, [
    el('saml:AudienceRestriction', {}, [el('saml:Audience', {}, [{ text: a.audience }])]),
  ]);
  const authn = el('saml:AuthnStatement', { AuthnInstant: samlTime(now), SessionIndex: newId().slice(1) }, [
    el('saml:AuthnContext', {}, [
      el('saml:AuthnContextClassRef', {}, [{ text: 'urn:oasis:names:tc:SAML:2.0:ac:classes:Password' }]),
    ]),
  ]);
  const attrs = el(
    'saml:AttributeStatement',
    {},
    Object.entries(a.attributes).map(([name, values]) =>
      el(
        'saml:Attribute',
        { Name: name, NameFormat: ATTRNAME_URI },
        values.map((v) => el('saml:AttributeValue', {}, [{ text: v }])),
      ),
    ),
  );
  const attrsOf = { ID: id, IssueInstant: samlTime(now), Version: '2.0' };
  // the enveloped-signature transform: the digest is of the assertion without its signature
  const unsigned = el('saml:Assertion', attrsOf, [issuer, subject, conditions, authn, attrs], { saml: NS.saml });
  const digest = createHash('sha256').update(unsigned).digest('base64');
  const signedInfoBody = [
    el('ds:CanonicalizationMethod', { Algorithm: EXC_C14N }),
    el('ds:SignatureMethod', { Algorithm: RSA_SHA256 }),
    el('ds:Reference', { URI: `#${id}` }, [
      el('ds:Transforms', {}, [
        el('ds:Transform', { Algorithm: ENVELOPED }),
        el('ds:Transform', { Algorithm: EXC_C14N }),
      ]),
      el('ds:DigestMethod', { Algorithm: SHA256 }),
      el('ds:DigestValue', {}, [{ text: digest }]),
    ]),
  ];
  // SignedInfo canonicalized alone declares ds itself; inside Signature, the declaration is the parent's
  const canonicalSignedInfo = el('ds:SignedInfo', {}, signedInfoBody, { ds: NS.ds });
  const signature = createSign('RSA-SHA256').update(canonicalSignedInfo).sign(keys.keyPem, 'base64');
  const sig = el(
    'ds:Signature',
    {},
    [
      el('ds:SignedInfo', {}, signedInfoBody),
      el('ds:SignatureValue', {}, [{ text: signature }]),
      el('ds:KeyInfo', {}, [el('ds:X509Data', {}, [el('ds:X509Certificate', {}, [{ text: certBody(keys.certPem) }])])]),
    ],
    { ds: NS.ds },
  );
  return el('saml:Assertion', attrsOf, [issuer, sig, subject, conditions, authn, attrs], { saml: NS.saml });
}

/** samlp:Response around an assertion (what POST /v3/auth/OS-FEDERATION/saml2 answers). */
export function samlResponse(assertion: string, issuer: string, destination: string, now = new Date()): string {
  return el(
    'samlp:Response',
    { Destination: destination, ID: newId(), IssueInstant: samlTime(now), Version: '2.0' },
    [
      el('saml:Issuer', { Format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity' }, [{ text: issuer }], {
        saml: NS.saml,
      }),
      el('samlp:Status', {}, [el('samlp:StatusCode', { Value: 'urn:oasis:names:tc:SAML:2.0:status:Success' })]),
      assertion,
    ],
    { samlp: NS.samlp },
  );
}

/** The ECP (PAOS) SOAP envelope around a response, with the service provider's relay state. */
export function ecpEnvelope(response: string, relayState: string): string {
  return el(
    'soap11:Envelope',
    {},
    [
      el('soap11:Header', {}, [
        el(
          'ecp:RelayState',
          { 'soap11:actor': 'http://schemas.xmlsoap.org/soap/actor/next', 'soap11:mustUnderstand': '1' },
          [{ text: relayState }],
          { ecp: NS.ecp },
        ),
      ]),
      el('soap11:Body', {}, [response]),
    ],
    { soap11: NS.soap11 },
  );
}

/** GET /v3/OS-FEDERATION/saml2/metadata: the IdP's EntityDescriptor. */
export function idpMetadata(entityId: string, ssoEndpoint: string, certPem: string): string {
  return el(
    'md:EntityDescriptor',
    { entityID: entityId },
    [
      el('md:IDPSSODescriptor', { protocolSupportEnumeration: NS.samlp }, [
        el('md:KeyDescriptor', { use: 'signing' }, [
          el('ds:KeyInfo', {}, [el('ds:X509Data', {}, [el('ds:X509Certificate', {}, [{ text: certBody(certPem) }])])], {
            ds: NS.ds,
          }),
        ]),
        el('md:NameIDFormat', {}, [{ text: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' }]),
        el('md:SingleSignOnService', {
          Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:SOAP',
          Location: ssoEndpoint,
        }),
      ]),
    ],
    { md: NS.md },
  );
}

export interface VerifiedAssertion {
  issuer: string;
  subject: string;
  audiences: string[];
  attributes: Record<string, string[]>;
}

const one = (xml: string, re: RegExp, what: string): string => {
  const m = re.exec(xml);
  if (!m) throw new Error(`the assertion has no ${what}`);
  return m[1]!;
};

/**
 * Finds the saml:Assertion in a SAML response or ECP envelope and checks it: signed (as written by
 * signedAssertion) by one of `trustedCerts`, digest and signature good, within its validity. Throws
 * with the reason otherwise.
 */
export function verifyAssertion(xml: string, trustedCerts: string[], now = new Date()): VerifiedAssertion {
  const start = xml.indexOf('<saml:Assertion ');
  const end = xml.indexOf('</saml:Assertion>', start);
  if (start < 0 || end < 0) throw new Error('no saml:Assertion found');
  if (xml.indexOf('<saml:Assertion ', start + 1) >= 0) throw new Error('more than one saml:Assertion');
  const assertion = xml.slice(start, end + '</saml:Assertion>'.length);
  const sigStart = assertion.indexOf('<ds:Signature ');
  const sigEnd = assertion.indexOf('</ds:Signature>');
  if (sigStart < 0 || sigEnd < 0) throw new Error('the assertion is not signed');
  const signatureXml = assertion.slice(sigStart, sigEnd + '</ds:Signature>'.length);
  const unsigned = assertion.slice(0, sigStart) + assertion.slice(sigEnd + '</ds:Signature>'.length);
  const id = one(assertion, /^<saml:Assertion [^>]*\bID="([^"]+)"/, 'ID');
  const signedInfo = one(signatureXml, /(<ds:SignedInfo>[\s\S]*<\/ds:SignedInfo>)/, 'SignedInfo');
  if (!signedInfo.includes(`<ds:Reference URI="#${id}">`))
    throw new Error('the signature does not cover the assertion');
  for (const alg of [EXC_C14N, RSA_SHA256, SHA256, ENVELOPED])
    if (!signedInfo.includes(`Algorithm="${alg}"`)) throw new Error(`unsupported signature algorithm (wants ${alg})`);
  const digest = one(signedInfo, /<ds:DigestValue>([^<]+)<\/ds:DigestValue>/, 'DigestValue');
  if (createHash('sha256').update(unsigned).digest('base64') !== digest) throw new Error('the digest does not match');
  const canonical = signedInfo.replace('<ds:SignedInfo>', `<ds:SignedInfo xmlns:ds="${NS.ds}">`);
  const value = one(signatureXml, /<ds:SignatureValue>([^<]+)<\/ds:SignatureValue>/, 'SignatureValue');
  const good = trustedCerts.some((pem) => {
    try {
      return createVerify('RSA-SHA256').update(canonical).verify(new X509Certificate(pem).publicKey, value, 'base64');
    } catch {
      return false;
    }
  });
  if (!good) throw new Error('the signature is not from a trusted identity provider');
  const conditions = /<saml:Conditions NotBefore="([^"]+)" NotOnOrAfter="([^"]+)">/.exec(unsigned);
  if (!conditions) throw new Error('the assertion has no validity period');
  const skew = 60_000;
  if (Date.parse(conditions[1]!) - skew > now.getTime() || Date.parse(conditions[2]!) + skew <= now.getTime())
    throw new Error('the assertion has expired or is not yet valid');
  const attributes: Record<string, string[]> = {};
  for (const m of unsigned.matchAll(/<saml:Attribute Name="([^"]*)"[^>]*>([\s\S]*?)<\/saml:Attribute>/g)) {
    attributes[unescape(m[1]!)] = [...m[2]!.matchAll(/<saml:AttributeValue>([^<]*)<\/saml:AttributeValue>/g)].map((v) =>
      unescape(v[1]!),
    );
  }
  return {
    issuer: unescape(one(unsigned, /<saml:Issuer [^>]*>([^<]*)<\/saml:Issuer>/, 'Issuer')),
    subject: unescape(one(unsigned, /<saml:NameID [^>]*>([^<]*)<\/saml:NameID>/, 'NameID')),
    audiences: [...unsigned.matchAll(/<saml:Audience>([^<]*)<\/saml:Audience>/g)].map((m) => unescape(m[1]!)),
    attributes,
  };
}
