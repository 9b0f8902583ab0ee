// Block storage's migrations by key (recorded in existing databases: never rename one).
import type { Migration } from '../../../core/db.ts';
import { initial } from './001_initial.ts';
import { groupTypes } from './002_group_types.ts';
import { groups } from './003_groups.ts';
import { migrationStatus } from './004_migration_status.ts';
import { backupHost } from './005_backup_host.ts';

export const MIGRATIONS: Record<string, Migration> = {
  '001_initial': initial,
  '002_group_types': groupTypes,
  '003_groups': groups,
  '004_migration_status': migrationStatus,
  '005_backup_host': backupHost,
};
