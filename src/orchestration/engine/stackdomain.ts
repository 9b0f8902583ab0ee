// The stack domain (Heat's stack_user_domain_name / stack_domain_admin): the users a guest signals
// with. DevStack's `heat` domain holds one project per stack (named after the stack id, Heat's
// stack_user_project_id) and, in it, one user per resource that hands credentials to a guest
// (wait condition handles, software deployments, scaling policies), with the role
// `heat_stack_user` on that project: a password, and EC2 keypairs when asked. The engine acts in
// the domain as `heat_domain_admin` (its token scoped to the domain). Bootstrap creates the
// domain, the admin (with DevStack's service password) and the role.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { httpRequest } from '../../core/clients/http.ts';
import type { Logger } from '../../core/log.ts';
import type { StackUserCreds } from '../resources/plugin.ts';

type Json = Record<string, unknown>;

export interface StackDomainOptions {
  /** stack_user_domain_name. */
  domain: string;
  /** stack_domain_admin. */
  admin: string;
  /** stack_domain_admin_password (default: the cloud's service password in secrets.yaml). */
  adminPassword?: string;
  dataDir: string;
}

export const STACK_USER_ROLE = 'heat_stack_user';

export class StackDomain {
  private cached?: { token: string; expires: number; domainId: string };
  private roleId?: string;

  constructor(
    private readonly authUrl: () => Promise<string>,
    private readonly o: StackDomainOptions,
    private readonly log: Logger,
  ) {}

  private password(): string {
    if (this.o.adminPassword) return this.o.adminPassword;
    const file = path.join(this.o.dataDir, 'secrets.yaml');
    const s = fs.existsSync(file) ? ((YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Json) : {};
    if (typeof s.servicePassword !== 'string')
      throw new Error(`StackDomain: no password for ${this.o.admin} (secrets.yaml has no servicePassword)`);
    return s.servicePassword;
  }

  private async call(method: string, p: string, body: unknown, token: string | null, expect: number[]) {
    const base = (await this.authUrl()).replace(/\/+$/, '');
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (token) headers['X-Auth-Token'] = token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await httpRequest(`${base}${p}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!expect.includes(res.status))
      throw new Error(`identity ${method} ${p.replace(/\?.*/, '')} answered ${res.status}: ${res.text.slice(0, 300)}`);
    return {
      status: res.status,
      body: (res.text ? JSON.parse(res.text) : {}) as Json,
      token: res.headers['x-subject-token'],
    };
  }

  /** A token of heat_domain_admin scoped to the stack domain (cached until shortly before it expires). */
  private async admin() {
    if (this.cached && this.cached.expires - Date.now() > 300_000) return this.cached;
    const got = await this.call(
      'POST',
      '/auth/tokens',
      {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: this.o.admin, domain: { name: this.o.domain }, password: this.password() } },
          },
          scope: { domain: { name: this.o.domain } },
        },
      },
      null,
      [201],
    );
    const t = got.body.token as { expires_at: string; domain?: { id: string } };
    if (typeof got.token !== 'string' || !t.domain) throw new Error('StackDomain: no domain-scoped token');
    this.cached = { token: got.token, expires: Date.parse(t.expires_at), domainId: t.domain.id };
    return this.cached;
  }

  private async role(token: string): Promise<string> {
    if (this.roleId) return this.roleId;
    const got = await this.call('GET', `/roles?name=${STACK_USER_ROLE}`, undefined, token, [200]);
    const role = ((got.body.roles ?? []) as Json[])[0];
    if (!role) throw new Error(`StackDomain: the role ${STACK_USER_ROLE} does not exist`);
    this.roleId = String(role.id);
    return this.roleId;
  }

  /** The stack's project in the domain (Heat's stack_user_project_id), made when first needed. */
  async project(stackId: string): Promise<string> {
    const a = await this.admin();
    const found = await this.call(
      'GET',
      `/projects?domain_id=${a.domainId}&name=${encodeURIComponent(stackId)}`,
      undefined,
      a.token,
      [200],
    );
    const existing = ((found.body.projects ?? []) as Json[])[0];
    if (existing) return String(existing.id);
    const made = await this.call(
      'POST',
      '/projects',
      { project: { name: stackId, domain_id: a.domainId, description: `Heat stack user project of ${stackId}` } },
      a.token,
      [201, 409],
    );
    if (made.status === 409) return this.project(stackId);
    return String((made.body.project as Json).id);
  }

  /** A user of the stack's project with a password (and an EC2 keypair when `ec2`). */
  async createUser(stackId: string, name: string, o: { ec2?: boolean } = {}): Promise<StackUserCreds> {
    const a = await this.admin();
    const projectId = await this.project(stackId);
    const password = randomBytes(24).toString('base64url');
    // Keystone's user names are unique in a domain: the resource's name plus a short random tail.
    const username = `${name.slice(0, 48)}-${randomBytes(6).toString('hex')}`;
    const made = await this.call(
      'POST',
      '/users',
      { user: { name: username, domain_id: a.domainId, default_project_id: projectId, password, enabled: true } },
      a.token,
      [201],
    );
    const userId = String((made.body.user as Json).id);
    const creds: StackUserCreds = {
      user_id: userId,
      username,
      project_id: projectId,
      domain_id: a.domainId,
      password,
    };
    try {
      await this.call(
        'PUT',
        `/projects/${projectId}/users/${userId}/roles/${await this.role(a.token)}`,
        undefined,
        a.token,
        [204, 201],
      );
      if (o.ec2) {
        // The keypair is made with the user's own token (Keystone lets a user make its own).
        const token = await this.userToken(creds);
        const ec2 = await this.call(
          'POST',
          `/users/${userId}/credentials/OS-EC2`,
          { tenant_id: projectId },
          token,
          [201, 200],
        );
        const c = ec2.body.credential as Json;
        creds.access = String(c.access);
        creds.secret = String(c.secret);
        creds.credential_id = createHash('sha256').update(String(c.access)).digest('hex');
      }
    } catch (e) {
      await this.deleteUser(userId).catch(() => undefined);
      throw e;
    }
    return creds;
  }

  /** A token of the stack user, scoped to the stack's project in the domain. */
  async userToken(c: Pick<StackUserCreds, 'user_id' | 'password' | 'project_id'>): Promise<string> {
    const got = await this.call(
      'POST',
      '/auth/tokens',
      {
        auth: {
          identity: { methods: ['password'], password: { user: { id: c.user_id, password: c.password } } },
          scope: { project: { id: c.project_id } },
        },
      },
      null,
      [201],
    );
    if (typeof got.token !== 'string') throw new Error('StackDomain: no token for the stack user');
    return got.token;
  }

  /** Deletes a stack user (its credentials go with it); a user already gone is not an error. */
  async deleteUser(userId: string): Promise<void> {
    const a = await this.admin();
    await this.call('DELETE', `/users/${userId}`, undefined, a.token, [204, 404]);
  }

  /** Deletes the stack's project (with the stack), if it was made. */
  async deleteProject(projectId: string): Promise<void> {
    try {
      const a = await this.admin();
      await this.call('DELETE', `/projects/${projectId}`, undefined, a.token, [204, 404]);
    } catch (err) {
      this.log.warn({ err, project: projectId }, 'stack user project not deleted');
    }
  }
}
