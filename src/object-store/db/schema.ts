// The object-store's tables, as db/migrations.ts creates them: Kysely<SwiftDb>. Metadata is JSON
// text (name → value); timestamps are Swift's X-Timestamp text, last_modified ISO text.
import type { Generated } from 'kysely';
import type { Int8 } from '../../core/db.ts';

export interface SwiftAccountTable {
  account: string;
  metadata: Generated<string>;
  timestamp: string;
  /** Set by an account DELETE; the account reaper empties and removes the account. */
  deleted_at: string | null;
}

export interface SwiftContainerTable {
  account: string;
  name: string;
  metadata: Generated<string>;
  timestamp: string;
  last_modified: string;
}

export interface SwiftObjectTable {
  account: string;
  container: string;
  name: string;
  /** The driver's name for the bytes (several rows may share one, e.g. after a copy). */
  blob: string;
  etag: string;
  bytes: Int8;
  content_type: string;
  timestamp: string;
  last_modified: string;
  metadata: Generated<string>;
  /** X-Delete-At, seconds since the epoch. */
  delete_at: Int8 | null;
}

export interface SwiftDb {
  swift_accounts: SwiftAccountTable;
  swift_containers: SwiftContainerTable;
  swift_objects: SwiftObjectTable;
}
