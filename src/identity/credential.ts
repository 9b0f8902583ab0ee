// Credentials (/v3/credentials and the OS-EC2 ones under users): blobs are encrypted at rest
// with Fernet keys from the credential key repository, each row remembering a hash of the
// primary key that encrypted it (Keystone's layout, so `credential_migrate/rotate` semantics
// hold and a database can be shared with Keystone).
import { createHash } from 'node:crypto';
import { ApiError } from '../core/errors.ts';
import { isUniqueViolation, json } from '../core/db.ts';
import { IdentityBackend, conflictDup, newId, notFound } from './backend.ts';
import type { KeyRepository } from './token/keys.ts';
import { encodeFernetKey, fernetDecrypt, fernetEncrypt } from './token/fernet.ts';
import type { Selectable } from 'kysely';
import type { CredentialTable } from './db/schema.ts';

export interface Credential {
  id: string;
  user_id: string;
  project_id: string | null;
  type: string;
  /** The plaintext blob: a string (for ec2, a JSON document). */
  blob: string;
  extra: Record<string, unknown>;
}

/** Columns of the credential table; everything else a client sends is kept in `extra`. */
export const CREDENTIAL_COLUMNS = ['id', 'user_id', 'project_id', 'type', 'blob'];

/** The id of an ec2 credential: sha256 of its access key (Keystone's utils.hash_access_key). */
export const hashAccessKey = (access: string) => createHash('sha256').update(access, 'utf8').digest('hex');

export class CredentialManager {
  constructor(
    private b: IdentityBackend,
    private keys: KeyRepository,
  ) {}

  // ---- encryption ----

  private encrypt(plaintext: string): { encrypted_blob: string; key_hash: string } {
    const keys = this.keys.load();
    if (!keys.length)
      throw new ApiError(
        500,
        'Credential could not be encrypted: no credential keys are set up.',
        'CredentialEncryptionError',
      );
    // Keystone hashes the primary key as it is written in its file (urlsafe base64).
    const key_hash = createHash('sha1').update(encodeFernetKey(keys[0]!), 'utf8').digest('hex');
    return { encrypted_blob: fernetEncrypt(keys[0]!, Buffer.from(plaintext, 'utf8')), key_hash };
  }

  private decrypt(token: string): string {
    try {
      return fernetDecrypt(this.keys.load(), token).toString('utf8');
    } catch {
      throw new ApiError(
        500,
        'Credential could not be decrypted. Please contact the administrator',
        'CredentialEncryptionError',
      );
    }
  }

  /** ec2 blobs are JSON-encoded once more before encryption, as Keystone does (json.dumps of the blob). */
  private sealBlob(type: string, blob: string) {
    return this.encrypt(type === 'ec2' ? JSON.stringify(blob) : blob);
  }

  private toCredential(r: Selectable<CredentialTable>): Credential {
    let blob = this.decrypt(r.encrypted_blob);
    if (r.type === 'ec2') {
      // Stored as a JSON string (or, from old Keystone releases, a JSON object).
      let v: unknown;
      try {
        v = JSON.parse(blob);
      } catch {
        v = blob;
      }
      blob = typeof v === 'string' ? v : JSON.stringify(v);
    }
    return {
      id: r.id,
      user_id: r.user_id,
      project_id: r.project_id ?? null,
      type: r.type,
      blob,
      extra: json(r.extra, {}),
    };
  }

  // ---- CRUD ----

  async list(f: { userId?: string; type?: string } = {}): Promise<Credential[]> {
    let q = this.b.db.selectFrom('credential').selectAll();
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
    if (f.type !== undefined) q = q.where('type', '=', f.type);
    return (await q.orderBy('id').execute()).map((r) => this.toCredential(r));
  }

  async find(id: string): Promise<Credential | undefined> {
    const r = await this.b.db.selectFrom('credential').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.toCredential(r) : undefined;
  }

  async get(id: string): Promise<Credential> {
    const c = await this.find(id);
    if (!c) throw notFound('credential', id);
    return c;
  }

  async create(c: {
    id?: string;
    user_id: string;
    project_id?: string | null;
    type: string;
    blob: string;
    extra?: Record<string, unknown>;
  }): Promise<Credential> {
    const id = c.id ?? newId();
    const sealed = this.sealBlob(c.type, c.blob);
    try {
      await this.b.db
        .insertInto('credential')
        .values({
          id,
          user_id: c.user_id,
          project_id: c.project_id ?? null,
          type: c.type,
          ...sealed,
          extra: JSON.stringify(c.extra ?? {}),
        })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflictDup('credential', 'ID', id);
      throw e;
    }
    this.b.notify('credential', 'created', id);
    return {
      id,
      user_id: c.user_id,
      project_id: c.project_id ?? null,
      type: c.type,
      blob: c.blob,
      extra: c.extra ?? {},
    };
  }

  async update(
    id: string,
    patch: {
      user_id?: string;
      project_id?: string | null;
      type?: string;
      blob?: string;
      extra?: Record<string, unknown>;
    },
  ): Promise<Credential> {
    const cur = await this.get(id);
    const next: Credential = {
      ...cur,
      user_id: patch.user_id ?? cur.user_id,
      project_id: patch.project_id !== undefined ? patch.project_id : cur.project_id,
      type: patch.type ?? cur.type,
      blob: patch.blob ?? cur.blob,
      extra: { ...cur.extra, ...(patch.extra ?? {}) },
    };
    // Re-encrypt whenever the blob or the type (which decides the encoding) changes.
    const values: Record<string, unknown> = {
      user_id: next.user_id,
      project_id: next.project_id,
      type: next.type,
      extra: JSON.stringify(next.extra),
    };
    if (patch.blob !== undefined || next.type !== cur.type) Object.assign(values, this.sealBlob(next.type, next.blob));
    await this.b.db.updateTable('credential').set(values).where('id', '=', id).execute();
    this.b.notify('credential', 'updated', id);
    return next;
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    await this.b.db.deleteFrom('credential').where('id', '=', id).execute();
    this.b.notify('credential', 'deleted', id);
  }
}
