// The tables block storage owns (Cinder's volumes, snapshots, attachments, types, quotas,
// services, messages, ...), as the code reads and writes them on both engines: the migrations in
// db/migrations/ create them. Booleans are integers 0/1, timestamps ISO strings, JSON text.

/** A boolean stored as an integer (0/1). */
type IntBool = number;
/** An ISO-8601 timestamp. */
type Timestamp = string;
/** JSON, stored as text (core/db.ts json()). */
type JsonText = string;

export interface VolumesTable {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  attach_status: string;
  previous_status: string | null;
  availability_zone: string;
  /** host@backend#pool once scheduled. */
  host: string | null;
  volume_type_id: string;
  snapshot_id: string | null;
  source_volid: string | null;
  image_id: string | null;
  backup_id: string | null;
  bootable: IntBool;
  multiattach: IntBool;
  encrypted: IntBool;
  metadata: JsonText;
  admin_metadata: JsonText;
  image_metadata: JsonText;
  migration_status: string | null;
  provider_location: string | null;
  group_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  launched_at: Timestamp | null;
  deleted: IntBool;
  deleted_at: Timestamp | null;
}

export interface AttachmentsTable {
  id: string;
  volume_id: string;
  instance_uuid: string | null;
  attached_host: string | null;
  mountpoint: string | null;
  attach_status: string;
  attach_mode: string;
  connector: JsonText | null;
  connection_info: JsonText | null;
  attach_time: Timestamp | null;
  detach_time: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: IntBool;
}

export interface SnapshotsTable {
  id: string;
  volume_id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  status: string;
  progress: string;
  volume_size: number;
  metadata: JsonText;
  provider_location: string | null;
  group_snapshot_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: IntBool;
  deleted_at: Timestamp | null;
}

export interface VolumeTypesTable {
  id: string;
  name: string;
  description: string | null;
  is_public: IntBool;
  extra_specs: JsonText;
  qos_specs_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: IntBool;
  deleted_at: Timestamp | null;
}

export interface VolumeTypeProjectsTable {
  volume_type_id: string;
  project_id: string;
}

export interface DefaultTypesTable {
  project_id: string;
  volume_type_id: string;
}

export interface QuotasTable {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface QuotaClassesTable {
  class_name: string;
  resource: string;
  hard_limit: number;
}

export interface ServicesTable {
  id: string;
  host: string;
  binary: string;
  topic: string;
  availability_zone: string;
  disabled: IntBool;
  disabled_reason: string | null;
  frozen: IntBool;
  report_count: number;
  /** The pools a volume service reported last (its capabilities), JSON. */
  capabilities: JsonText | null;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

export interface MessagesTable {
  id: string;
  project_id: string;
  request_id: string | null;
  resource_type: string;
  resource_uuid: string | null;
  event_id: string;
  message_level: string;
  user_message: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface QosSpecsTable {
  id: string;
  name: string;
  consumer: string;
  specs: JsonText;
  created_at: Timestamp;
}

export interface EncryptionTable {
  volume_type_id: string;
  encryption_id: string;
  provider: string;
  cipher: string | null;
  key_size: number | null;
  control_location: string;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

export interface TransfersTable {
  id: string;
  volume_id: string;
  name: string | null;
  salt: string;
  crypt_hash: string;
  source_project_id: string;
  destination_project_id: string | null;
  accepted: IntBool;
  no_snapshots: IntBool;
  deleted: IntBool;
  created_at: Timestamp;
}

export interface BackupsTable {
  id: string;
  volume_id: string;
  snapshot_id: string | null;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  status: string;
  fail_reason: string | null;
  size: number;
  object_count: number;
  container: string | null;
  parent_id: string | null;
  is_incremental: IntBool;
  availability_zone: string;
  /** The cinder-backup host that made it (null: made before the column, any host serves it). */
  host: string | null;
  metadata: JsonText;
  /** The chunk list (name, offset, length, sha256) the backup agent wrote, JSON. */
  chunks: JsonText;
  data_timestamp: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: IntBool;
}

export interface GroupTypesTable {
  id: string;
  name: string;
  description: string | null;
  is_public: IntBool;
  group_specs: JsonText;
  created_at: Timestamp;
  updated_at: Timestamp | null;
}

export interface GroupsTable {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  status: string;
  availability_zone: string;
  /** host@backend#pool once scheduled: the backend of every volume of the group. */
  host: string | null;
  group_type_id: string;
  /** The volume types the group's volumes may have (ids), JSON list. */
  volume_type_ids: JsonText;
  group_snapshot_id: string | null;
  source_group_id: string | null;
  replication_status: string;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: IntBool;
}

export interface GroupSnapshotsTable {
  id: string;
  group_id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  status: string;
  group_type_id: string;
  created_at: Timestamp;
  updated_at: Timestamp | null;
  deleted: IntBool;
}

export interface BlockStorageDb {
  volumes: VolumesTable;
  volume_attachments: AttachmentsTable;
  snapshots: SnapshotsTable;
  volume_types: VolumeTypesTable;
  volume_type_projects: VolumeTypeProjectsTable;
  default_types: DefaultTypesTable;
  quotas: QuotasTable;
  quota_classes: QuotaClassesTable;
  services: ServicesTable;
  messages: MessagesTable;
  qos_specs: QosSpecsTable;
  encryption: EncryptionTable;
  transfers: TransfersTable;
  backups: BackupsTable;
  group_types: GroupTypesTable;
  groups: GroupsTable;
  group_snapshots: GroupSnapshotsTable;
}
