// Block storage's migrations by key (recorded in existing databases: never rename one).
import type { Migration } from '../../../core/db.ts';
import { initial } from './001_initial.ts';

export const MIGRATIONS: Record<string, Migration> = {
  '001_initial': initial,
};
