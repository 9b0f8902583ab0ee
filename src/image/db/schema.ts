// The image service's tables, as db/migrations.ts creates them: Kysely<ImageDb>.
// Times are ISO-8601 text unless said otherwise; JSON columns are text.
import type { Generated } from 'kysely';
import type { Int8, IntBool } from '../../core/db.ts';

export interface ImageTable {
  id: string;
  name: string | null;
  disk_format: string | null;
  container_format: string | null;
  size: Int8 | null;
  virtual_size: Int8 | null;
  status: string;
  visibility: string;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  min_disk: Generated<number>;
  min_ram: Generated<number>;
  protected: Generated<IntBool>;
  os_hidden: Generated<IntBool>;
  owner: string | null;
  /** JSON: extra properties, name → string. */
  properties: Generated<string>;
  /** JSON: the tags, a list of strings. */
  tags: Generated<string>;
  /** JSON: the locations, a list of { store, url, metadata }. */
  locations: Generated<string>;
  created_at: string;
  updated_at: string;
}

export interface ImageMemberTable {
  image_id: string;
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface TaskTable {
  id: string;
  type: string;
  status: string;
  owner: string | null;
  /** JSON */
  input: string | null;
  /** JSON */
  result: string | null;
  message: string | null;
  image_id: string | null;
  request_id: string | null;
  user_id: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** A metadata definitions namespace: its objects, properties, tags and resource type associations in `doc`. */
export interface MetadefNamespaceTable {
  namespace: string;
  owner: string | null;
  visibility: string;
  protected: Generated<IntBool>;
  /** JSON */
  doc: string;
  created_at: string;
  updated_at: string;
}

/** The image cache's records (times in ms since the epoch). */
export interface ImageCacheTable {
  image_id: string;
  hits: Generated<number>;
  last_accessed: Int8;
  last_modified: Int8;
  size: Int8;
}

export interface ImageCacheQueueTable {
  image_id: string;
  queued_at: Int8;
}

export interface ImageDb {
  images: ImageTable;
  image_members: ImageMemberTable;
  tasks: TaskTable;
  metadef_namespaces: MetadefNamespaceTable;
  image_cache: ImageCacheTable;
  image_cache_queue: ImageCacheQueueTable;
}
