// Placement's data: providers (trees), inventories, traits, aggregates, resource classes,
// consumers and allocations. Every write that depends on a provider's state checks and bumps the
// provider generation inside one transaction (compare-and-swap), so two writers that read the
// same generation cannot both commit: the loser sees ConcurrentUpdate and retries or answers 409.
import type { Kysely, Transaction } from 'kysely';
import { isUniqueViolation, now } from '../core/db.ts';
import type { InventoryTable, PlacementDb } from './db/schema.ts';
import { STANDARD_RESOURCE_CLASSES, STANDARD_TRAITS } from './standard.ts';

export const MAX_INT = 2147483647;
const STD_RC = new Set(STANDARD_RESOURCE_CLASSES);
const STD_TRAITS = new Set(STANDARD_TRAITS);
export const isStandardClass = (n: string) => STD_RC.has(n);
/** Resource classes in upstream's id order: standard ones by their index, then custom ones. */
export function classOrder(names: string[]): string[] {
  const idx = (n: string) => {
    const i = STANDARD_RESOURCE_CLASSES.indexOf(n);
    return i < 0 ? 10000 : i;
  };
  return names.sort((a, b) => idx(a) - idx(b) || (a < b ? -1 : a > b ? 1 : 0));
}
export const isStandardTrait = (n: string) => STD_TRAITS.has(n);
/** Consumers written before 1.8 carry no project or user (placement's incomplete_consumer_*_id). */
export const INCOMPLETE_CONSUMER_ID = '00000000-0000-0000-0000-000000000000';

export interface Provider {
  uuid: string;
  name: string;
  generation: number;
  parent_uuid: string | null;
  root_uuid: string;
  created_at: string;
  updated_at: string;
}
/** An inventory of one resource class: its row without the provider and the creation time. */
export type Inventory = Omit<InventoryTable, 'rp_uuid' | 'created_at' | 'updated_at'> & { updated_at?: string };
/** An inventory's amounts, the part a client reads and writes. */
export type InventoryAmounts = Omit<Inventory, 'resource_class' | 'updated_at'>;
export interface Consumer {
  uuid: string;
  project_id: string;
  user_id: string;
  consumer_type: string | null;
  generation: number;
  created_at: string;
  updated_at: string;
}
export interface AllocationRow {
  rp_uuid: string;
  consumer_uuid: string;
  resource_class: string;
  used: number;
  updated_at: string;
}

/** A failure the API turns into its own message and status. */
export class PlacementFailure extends Error {
  constructor(
    public kind:
      | 'concurrent'
      | 'capacity'
      | 'constraints'
      | 'no_inventory'
      | 'inuse'
      | 'consumer_generation'
      | 'provider_missing'
      | 'bad_class',
    message: string,
    public detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const DEFAULT_INVENTORY = { reserved: 0, min_unit: 1, max_unit: MAX_INT, step_size: 1, allocation_ratio: 1.0 };

/** Capacity of an inventory, as placement computes it: (total - reserved) * allocation_ratio, floored. */
export const capacity = (inv: Pick<Inventory, 'total' | 'reserved' | 'allocation_ratio'>) =>
  Math.floor((inv.total - inv.reserved) * inv.allocation_ratio);

const toProvider = (r: Provider): Provider => ({ ...r, generation: Number(r.generation) });
/** An inventory's amounts, as numbers (PostgreSQL hands some back as strings), in placement's order. */
export const inventoryAmounts = (inv: InventoryAmounts): InventoryAmounts => ({
  total: Number(inv.total),
  reserved: Number(inv.reserved),
  min_unit: Number(inv.min_unit),
  max_unit: Number(inv.max_unit),
  step_size: Number(inv.step_size),
  allocation_ratio: Number(inv.allocation_ratio),
});
const toInventory = (r: Inventory): Inventory => ({
  resource_class: r.resource_class,
  ...inventoryAmounts(r),
  updated_at: r.updated_at,
});

export interface ConsumerWrite {
  uuid: string;
  project_id: string;
  user_id: string;
  /** undefined: the microversion does not check consumer generations. */
  generation?: number | null;
  /** undefined: keep the consumer's type (before 1.38). */
  consumer_type?: string;
  /** provider uuid -> resource class -> amount; empty removes the consumer's allocations. */
  allocations: Record<string, Record<string, number>>;
}

/** A snapshot of everything allocation candidates look at. */
export interface Snapshot {
  providers: Map<string, Provider>;
  inventories: Map<string, Map<string, Inventory>>;
  usage: Map<string, Map<string, number>>;
  traits: Map<string, Set<string>>;
  aggregates: Map<string, Set<string>>;
}

export class PlacementStore {
  constructor(public db: Kysely<PlacementDb>) {}

  // ---- resource classes --------------------------------------------------------------

  async customClasses(db: Kysely<PlacementDb> = this.db): Promise<Array<{ name: string; updated_at: string }>> {
    return db.selectFrom('resource_classes').select(['name', 'updated_at']).orderBy('name').execute();
  }
  async classExists(name: string, db: Kysely<PlacementDb> = this.db): Promise<boolean> {
    if (STD_RC.has(name)) return true;
    return !!(await db.selectFrom('resource_classes').select('name').where('name', '=', name).executeTakeFirst());
  }
  async createClass(name: string): Promise<boolean> {
    if (STD_RC.has(name)) return false;
    try {
      await this.db.insertInto('resource_classes').values({ name, created_at: now(), updated_at: now() }).execute();
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }
  async classInUse(name: string): Promise<boolean> {
    return (
      !!(await this.db
        .selectFrom('inventories')
        .select('rp_uuid')
        .where('resource_class', '=', name)
        .limit(1)
        .executeTakeFirst()) ||
      !!(await this.db
        .selectFrom('allocations')
        .select('rp_uuid')
        .where('resource_class', '=', name)
        .limit(1)
        .executeTakeFirst())
    );
  }
  async deleteClass(name: string) {
    await this.db.deleteFrom('resource_classes').where('name', '=', name).execute();
  }
  async renameClass(from: string, to: string) {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('resource_classes').set({ name: to, updated_at: now() }).where('name', '=', from).execute();
      await trx.updateTable('inventories').set({ resource_class: to }).where('resource_class', '=', from).execute();
      await trx.updateTable('allocations').set({ resource_class: to }).where('resource_class', '=', from).execute();
      await this.touch(trx);
    });
  }

  // ---- traits ------------------------------------------------------------------------

  async allTraits(): Promise<string[]> {
    const custom = await this.db.selectFrom('traits').select('name').execute();
    return [...STANDARD_TRAITS, ...custom.map((r) => r.name as string)];
  }
  async missingTraits(names: Iterable<string>, db: Kysely<PlacementDb> = this.db): Promise<string[]> {
    const custom = [...names].filter((n) => !STD_TRAITS.has(n));
    if (!custom.length) return [];
    const found = new Set(
      (await db.selectFrom('traits').select('name').where('name', 'in', custom).execute()).map((r) => r.name),
    );
    return custom.filter((n) => !found.has(n));
  }
  async traitExists(name: string) {
    return (await this.missingTraits([name])).length === 0;
  }
  async createTrait(name: string): Promise<boolean> {
    if (STD_TRAITS.has(name)) return false;
    try {
      await this.db.insertInto('traits').values({ name, created_at: now(), updated_at: now() }).execute();
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }
  async traitInUse(name: string) {
    return !!(await this.db
      .selectFrom('provider_traits')
      .select('rp_uuid')
      .where('trait', '=', name)
      .limit(1)
      .executeTakeFirst());
  }
  async deleteTrait(name: string) {
    await this.db.deleteFrom('traits').where('name', '=', name).execute();
  }
  async associatedTraits(): Promise<Set<string>> {
    return new Set(
      (await this.db.selectFrom('provider_traits').select('trait').distinct().execute()).map((r) => r.trait as string),
    );
  }

  // ---- providers ---------------------------------------------------------------------

  async provider(uuid: string, db: Kysely<PlacementDb> = this.db): Promise<Provider | undefined> {
    const r = await db.selectFrom('resource_providers').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return r ? toProvider(r) : undefined;
  }
  async providers(): Promise<Provider[]> {
    return (
      await this.db.selectFrom('resource_providers').selectAll().orderBy('created_at').orderBy('uuid').execute()
    ).map(toProvider);
  }
  async createProvider(p: { uuid: string; name: string; parent_uuid: string | null }): Promise<Provider> {
    return this.db.transaction().execute(async (trx) => {
      let root = p.uuid;
      if (p.parent_uuid) {
        const parent = await this.provider(p.parent_uuid, trx);
        if (!parent) throw new PlacementFailure('provider_missing', 'parent provider UUID does not exist.');
        root = parent.root_uuid;
      }
      const t = now();
      const row = {
        uuid: p.uuid,
        name: p.name,
        generation: 0,
        parent_uuid: p.parent_uuid,
        root_uuid: root,
        created_at: t,
        updated_at: t,
      };
      await trx.insertInto('resource_providers').values(row).execute();
      await this.touch(trx);
      return row;
    });
  }
  /** Renames and (re)parents a provider; moving a subtree updates every descendant's root. */
  async updateProvider(
    rp: Provider,
    name: string,
    parent: string | null,
    allowReparenting: boolean,
  ): Promise<Provider> {
    return this.db.transaction().execute(async (trx) => {
      const t = now();
      let root = rp.root_uuid;
      if (parent !== rp.parent_uuid) {
        if (parent) {
          const pp = await this.provider(parent, trx);
          if (!pp)
            throw new PlacementFailure(
              'provider_missing',
              'Object action create failed because: parent provider UUID does not exist.',
            );
          if (rp.parent_uuid && !allowReparenting)
            throw new PlacementFailure(
              'inuse',
              'Object action update failed because: re-parenting a provider is not currently allowed.',
            );
          // The new parent may not be the provider itself or one of its descendants.
          let cur: Provider | undefined = pp;
          while (cur) {
            if (cur.uuid === rp.uuid)
              throw new PlacementFailure(
                'inuse',
                'Object action update failed because: creating loop in the provider tree is not allowed.',
              );
            cur = cur.parent_uuid ? await this.provider(cur.parent_uuid, trx) : undefined;
          }
          root = pp.root_uuid;
        } else {
          if (!allowReparenting)
            throw new PlacementFailure(
              'inuse',
              'Object action update failed because: un-parenting a provider is not currently allowed.',
            );
          root = rp.uuid;
        }
        if (root !== rp.root_uuid) {
          const all = (await trx
            .selectFrom('resource_providers')
            .select(['uuid', 'parent_uuid'])
            .where('root_uuid', '=', rp.root_uuid)
            .execute()) as Array<{ uuid: string; parent_uuid: string | null }>;
          const subtree = new Set([rp.uuid]);
          let grew = true;
          while (grew) {
            grew = false;
            for (const r of all)
              if (r.parent_uuid && subtree.has(r.parent_uuid) && !subtree.has(r.uuid)) {
                subtree.add(r.uuid);
                grew = true;
              }
          }
          await trx
            .updateTable('resource_providers')
            .set({ root_uuid: root })
            .where('uuid', 'in', [...subtree])
            .execute();
        }
      }
      await trx
        .updateTable('resource_providers')
        .set({ name, parent_uuid: parent, root_uuid: root, updated_at: t })
        .where('uuid', '=', rp.uuid)
        .execute();
      await this.touch(trx);
      return { ...rp, name, parent_uuid: parent, root_uuid: root, updated_at: t };
    });
  }
  async deleteProvider(uuid: string) {
    await this.db.transaction().execute(async (trx) => {
      if (await trx.selectFrom('allocations').select('rp_uuid').where('rp_uuid', '=', uuid).limit(1).executeTakeFirst())
        throw new PlacementFailure('inuse', 'Resource provider has allocations.');
      if (
        await trx
          .selectFrom('resource_providers')
          .select('uuid')
          .where('parent_uuid', '=', uuid)
          .limit(1)
          .executeTakeFirst()
      )
        throw new PlacementFailure('provider_missing', 'has children');
      for (const t of ['inventories', 'provider_traits', 'provider_aggregates'] as const)
        await trx.deleteFrom(t).where('rp_uuid', '=', uuid).execute();
      await trx.deleteFrom('resource_providers').where('uuid', '=', uuid).execute();
      await this.touch(trx);
    });
  }

  /** Marks providers, inventories, traits or aggregates changed (the snapshot cache reloads them). */
  private async touch(trx: Kysely<PlacementDb>) {
    await trx
      .updateTable('placement_revision')
      .set((eb) => ({ revision: eb('revision', '+', 1) }))
      .where('id', '=', 1)
      .execute();
  }

  /** Compare-and-swap of a provider generation; ConcurrentUpdate when someone else moved it. */
  async bump(trx: Kysely<PlacementDb>, uuid: string, expected: number): Promise<number> {
    const r = await trx
      .updateTable('resource_providers')
      .set({ generation: expected + 1, updated_at: now() })
      .where('uuid', '=', uuid)
      .where('generation', '=', expected)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new PlacementFailure(
        'concurrent',
        'Another thread concurrently updated the resource provider data. Please retry your update',
      );
    return expected + 1;
  }

  // ---- inventories -------------------------------------------------------------------

  async inventories(uuid: string, db: Kysely<PlacementDb> = this.db): Promise<Inventory[]> {
    return (
      await db.selectFrom('inventories').selectAll().where('rp_uuid', '=', uuid).orderBy('resource_class').execute()
    ).map(toInventory);
  }
  /**
   * Replaces (`replace`) or merges a provider's inventories after checking its generation.
   * Removing a class that has allocations fails with `inuse` unless `allowInUse` (the reshaper
   * checks at the end of its own transaction).
   */
  async setInventories(
    uuid: string,
    generation: number,
    invs: Inventory[],
    opts: { replace: boolean; remove?: string[]; allowInUse?: boolean },
    db?: Kysely<PlacementDb>,
  ): Promise<number> {
    const work = async (trx: Kysely<PlacementDb>) => {
      const rp = await this.provider(uuid, trx);
      if (!rp) throw new PlacementFailure('provider_missing', `No resource provider with uuid ${uuid} found`);
      if (rp.generation !== generation)
        throw new PlacementFailure('concurrent', 'resource provider generation conflict');
      for (const inv of invs)
        if (!(await this.classExists(inv.resource_class, trx)))
          throw new PlacementFailure('bad_class', `No such resource class ${inv.resource_class}.`);
      const existing = await this.inventories(uuid, trx);
      const wanted = new Set(invs.map((i) => i.resource_class));
      const removed = opts.replace
        ? existing.filter((e) => !wanted.has(e.resource_class)).map((e) => e.resource_class)
        : (opts.remove ?? []);
      if (removed.length && !opts.allowInUse) {
        const used = await trx
          .selectFrom('allocations')
          .select('resource_class')
          .distinct()
          .where('rp_uuid', '=', uuid)
          .where('resource_class', 'in', removed)
          .execute();
        if (used.length)
          throw new PlacementFailure(
            'inuse',
            `Inventory for '${classOrder(used.map((u) => u.resource_class as string)).join(', ')}' on resource provider '${uuid}' in use.`,
          );
      }
      if (removed.length)
        await trx
          .deleteFrom('inventories')
          .where('rp_uuid', '=', uuid)
          .where('resource_class', 'in', removed)
          .execute();
      const t = now();
      for (const inv of invs) {
        const row = { ...inventoryAmounts(inv), updated_at: t };
        const r = await trx
          .updateTable('inventories')
          .set(row)
          .where('rp_uuid', '=', uuid)
          .where('resource_class', '=', inv.resource_class)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0)
          await trx
            .insertInto('inventories')
            .values({ ...row, rp_uuid: uuid, resource_class: inv.resource_class, created_at: t })
            .execute();
      }
      await this.touch(trx);
      return this.bump(trx, uuid, generation);
    };
    return db ? work(db) : this.db.transaction().execute(work);
  }

  async usages(uuid: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const inv of await this.inventories(uuid)) out[inv.resource_class] = 0;
    const rows = await this.db
      .selectFrom('allocations')
      .select(['resource_class'])
      .select((eb) => eb.fn.sum<number>('used').as('used'))
      .where('rp_uuid', '=', uuid)
      .groupBy('resource_class')
      .execute();
    for (const r of rows) out[r.resource_class as string] = Number(r.used);
    return out;
  }

  // ---- provider traits and aggregates --------------------------------------------------

  async providerTraits(uuid: string): Promise<string[]> {
    return (
      await this.db.selectFrom('provider_traits').select('trait').where('rp_uuid', '=', uuid).orderBy('trait').execute()
    ).map((r) => r.trait as string);
  }
  async setProviderTraits(uuid: string, generation: number | undefined, traits: string[]): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rp = await this.provider(uuid, trx);
      if (!rp) throw new PlacementFailure('provider_missing', `No resource provider with uuid ${uuid} found`);
      const gen = generation ?? rp.generation;
      if (rp.generation !== gen) throw new PlacementFailure('concurrent', 'resource provider generation conflict');
      await trx.deleteFrom('provider_traits').where('rp_uuid', '=', uuid).execute();
      for (const t of new Set(traits))
        await trx.insertInto('provider_traits').values({ rp_uuid: uuid, trait: t }).execute();
      await this.touch(trx);
      return this.bump(trx, uuid, gen);
    });
  }
  async providerAggregates(uuid: string): Promise<string[]> {
    return (
      await this.db
        .selectFrom('provider_aggregates')
        .select('aggregate_uuid')
        .where('rp_uuid', '=', uuid)
        .orderBy('aggregate_uuid')
        .execute()
    ).map((r) => r.aggregate_uuid as string);
  }
  async setProviderAggregates(uuid: string, generation: number | undefined, aggs: string[]): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rp = await this.provider(uuid, trx);
      if (!rp) throw new PlacementFailure('provider_missing', `No resource provider with uuid ${uuid} found`);
      const gen = generation ?? rp.generation;
      if (rp.generation !== gen) throw new PlacementFailure('concurrent', 'resource provider generation conflict');
      await trx.deleteFrom('provider_aggregates').where('rp_uuid', '=', uuid).execute();
      for (const a of new Set(aggs))
        await trx.insertInto('provider_aggregates').values({ rp_uuid: uuid, aggregate_uuid: a }).execute();
      await this.touch(trx);
      return this.bump(trx, uuid, gen);
    });
  }

  // ---- consumers and allocations -------------------------------------------------------

  async consumer(uuid: string, db: Kysely<PlacementDb> = this.db): Promise<Consumer | undefined> {
    const r = await db.selectFrom('consumers').selectAll().where('uuid', '=', uuid).executeTakeFirst();
    return r ? { ...(r as Consumer), generation: Number(r.generation) } : undefined;
  }
  async allocationsOfConsumer(uuid: string, db: Kysely<PlacementDb> = this.db): Promise<AllocationRow[]> {
    return (
      await db
        .selectFrom('allocations')
        .selectAll()
        .where('consumer_uuid', '=', uuid)
        .orderBy('rp_uuid')
        .orderBy('resource_class')
        .execute()
    ).map((r) => ({ ...(r as AllocationRow), used: Number(r.used) }));
  }
  async allocationsOfProvider(uuid: string): Promise<AllocationRow[]> {
    return (
      await this.db
        .selectFrom('allocations')
        .selectAll()
        .where('rp_uuid', '=', uuid)
        .orderBy('consumer_uuid')
        .orderBy('resource_class')
        .execute()
    ).map((r) => ({ ...(r as AllocationRow), used: Number(r.used) }));
  }
  async consumersByUuid(uuids: string[]): Promise<Map<string, Consumer>> {
    const out = new Map<string, Consumer>();
    if (!uuids.length) return out;
    for (const r of await this.db.selectFrom('consumers').selectAll().where('uuid', 'in', uuids).execute())
      out.set(r.uuid, { ...(r as Consumer), generation: Number(r.generation) });
    return out;
  }

  /**
   * Replaces the allocations of every consumer in `writes` in one transaction: consumer
   * generations are compared and bumped, the consumers' old allocations dropped, capacity and
   * inventory constraints checked against everyone else's usage, then the generation of every
   * provider touched is compared-and-swapped. A provider generation conflict retries the whole
   * transaction (placement's allocation_conflict_retry_count, 10).
   */
  async replaceAllocations(writes: ConsumerWrite[], inTrx?: Kysely<PlacementDb>): Promise<void> {
    const attempt = (trx: Kysely<PlacementDb>) => this.replaceOnce(trx, writes);
    if (inTrx) return attempt(inTrx);
    for (let retries = 10; ; retries--) {
      try {
        await this.db.transaction().execute(attempt);
        return;
      } catch (e) {
        if (!(e instanceof PlacementFailure && e.kind === 'concurrent' && e.detail.provider) || retries <= 1) throw e;
      }
    }
  }

  private async replaceOnce(trx: Kysely<PlacementDb>, writes: ConsumerWrite[]) {
    const t = now();
    const touched = new Map<string, number>();
    const providerGen = async (uuid: string) => {
      if (touched.has(uuid)) return;
      const rp = await this.provider(uuid, trx);
      if (!rp)
        throw new PlacementFailure(
          'provider_missing',
          `Allocation for resource provider '${uuid}' that does not exist.`,
          { uuid },
        );
      touched.set(uuid, rp.generation);
    };
    for (const w of writes) for (const rp of Object.keys(w.allocations)) await providerGen(rp);
    const needs = new Map<string, Map<string, number>>();
    for (const w of writes) {
      const old = await this.allocationsOfConsumer(w.uuid, trx);
      // Upstream bumps the providers of the new allocations; an emptied consumer's old ones too.
      if (!Object.keys(w.allocations).length) for (const a of old) await providerGen(a.rp_uuid);
      const c = await this.consumer(w.uuid, trx);
      if (w.generation !== undefined) {
        if (c && c.generation !== w.generation)
          throw new PlacementFailure(
            'consumer_generation',
            `consumer generation conflict - expected ${c.generation} but got ${w.generation}`,
          );
        if (!c && w.generation !== null)
          throw new PlacementFailure(
            'consumer_generation',
            `consumer generation conflict - expected null but got ${w.generation}`,
          );
      }
      if (c) {
        const set: Record<string, unknown> = {
          generation: c.generation + 1,
          project_id: w.project_id,
          user_id: w.user_id,
          updated_at: t,
        };
        if (w.consumer_type !== undefined) set.consumer_type = w.consumer_type;
        const r = await trx
          .updateTable('consumers')
          .set(set)
          .where('uuid', '=', w.uuid)
          .where('generation', '=', c.generation)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1)
          throw new PlacementFailure(
            'consumer_generation',
            'consumer generation conflict - the consumer was updated concurrently',
          );
      } else {
        try {
          await trx
            .insertInto('consumers')
            .values({
              uuid: w.uuid,
              project_id: w.project_id,
              user_id: w.user_id,
              consumer_type: w.consumer_type ?? null,
              generation: 1,
              created_at: t,
              updated_at: t,
            })
            .execute();
        } catch (e) {
          if (isUniqueViolation(e))
            throw new PlacementFailure(
              'consumer_generation',
              'consumer generation conflict - expected null but the consumer was created concurrently',
            );
          throw e;
        }
      }
      await trx.deleteFrom('allocations').where('consumer_uuid', '=', w.uuid).execute();
      for (const [rp, res] of Object.entries(w.allocations)) {
        for (const [rc, amount] of Object.entries(res)) {
          if (!(await this.classExists(rc, trx)))
            throw new PlacementFailure('bad_class', `No such resource class ${rc}.`);
          const m = needs.get(rp) ?? new Map<string, number>();
          needs.set(rp, m);
          m.set(rc, (m.get(rc) ?? 0) + amount);
          // Each single allocation must respect the inventory's unit constraints.
          await this.checkUnit(trx, rp, rc, amount);
        }
      }
    }
    for (const [rp, m] of needs) {
      const invs = new Map((await this.inventories(rp, trx)).map((i) => [i.resource_class, i]));
      const usedRows = await trx
        .selectFrom('allocations')
        .select('resource_class')
        .select((eb) => eb.fn.sum<number>('used').as('used'))
        .where('rp_uuid', '=', rp)
        .groupBy('resource_class')
        .execute();
      const used = new Map(usedRows.map((r) => [r.resource_class as string, Number(r.used)]));
      for (const [rc, amount] of m) {
        const inv = invs.get(rc)!;
        if ((used.get(rc) ?? 0) + amount > (inv.total - inv.reserved) * inv.allocation_ratio) {
          throw new PlacementFailure(
            'capacity',
            `Unable to create allocation for '${rc}' on resource provider '${rp}'. The requested amount would exceed the capacity.`,
          );
        }
      }
    }
    for (const w of writes) {
      for (const [rp, res] of Object.entries(w.allocations)) {
        for (const [rc, amount] of Object.entries(res)) {
          await trx
            .insertInto('allocations')
            .values({
              rp_uuid: rp,
              consumer_uuid: w.uuid,
              resource_class: rc,
              used: amount,
              created_at: t,
              updated_at: t,
            })
            .execute();
        }
      }
      // A consumer without allocations is forgotten, as upstream does.
      if (!Object.keys(w.allocations).length) await trx.deleteFrom('consumers').where('uuid', '=', w.uuid).execute();
    }
    for (const [rp, gen] of touched) {
      try {
        await this.bump(trx, rp, gen);
      } catch (e) {
        if (e instanceof PlacementFailure) e.detail.provider = rp;
        throw e;
      }
    }
  }

  private async checkUnit(trx: Kysely<PlacementDb>, rp: string, rc: string, amount: number) {
    const inv = await trx
      .selectFrom('inventories')
      .selectAll()
      .where('rp_uuid', '=', rp)
      .where('resource_class', '=', rc)
      .executeTakeFirst();
    if (!inv) throw new PlacementFailure('no_inventory', `Inventory for '${rc}' on resource provider '${rp}' invalid.`);
    const i = toInventory(inv);
    if (amount < i.min_unit || amount > i.max_unit || amount % i.step_size !== 0) {
      throw new PlacementFailure(
        'constraints',
        `Unable to create allocation for '${rc}' on resource provider '${rp}'. The requested amount would violate inventory constraints.`,
      );
    }
  }

  /** Deletes a consumer's allocations (upstream leaves provider generations alone here). */
  async deleteAllocations(consumer: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('allocations').where('consumer_uuid', '=', consumer).executeTakeFirst();
      await trx.deleteFrom('consumers').where('uuid', '=', consumer).execute();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Usage of a project (and user), by resource class, optionally grouped by consumer type (1.38). */
  async projectUsages(
    project: string,
    user?: string,
  ): Promise<Array<{ resource_class: string; used: number; consumer_uuid: string; consumer_type: string | null }>> {
    let q = this.db
      .selectFrom('allocations')
      .innerJoin('consumers', 'consumers.uuid', 'allocations.consumer_uuid')
      .select([
        'allocations.resource_class',
        'allocations.used',
        'allocations.consumer_uuid',
        'consumers.consumer_type',
      ])
      .where('consumers.project_id', '=', project);
    if (user) q = q.where('consumers.user_id', '=', user);
    return (await q.execute()).map((r) => ({ ...r, used: Number(r.used) }));
  }

  /** Everything allocation candidates look at, read in one transaction. */
  async snapshot(): Promise<Snapshot> {
    return this.db.transaction().execute(async (trx: Transaction<PlacementDb>) => {
      // Providers, inventories, traits and aggregates change rarely: kept while the revision stands.
      const rev = Number(
        (await trx.selectFrom('placement_revision').select('revision').where('id', '=', 1).executeTakeFirst())
          ?.revision ?? -1,
      );
      const kept = this.cached && rev >= 0 && this.cached.revision === rev ? this.cached.snapshot : undefined;
      const usage = new Map<string, Map<string, number>>();
      for (const r of await trx
        .selectFrom('allocations')
        .select(['rp_uuid', 'resource_class'])
        .select((eb) => eb.fn.sum<number>('used').as('used'))
        .groupBy(['rp_uuid', 'resource_class'])
        .execute()) {
        const m = usage.get(r.rp_uuid as string) ?? new Map();
        usage.set(r.rp_uuid as string, m);
        m.set(r.resource_class as string, Number(r.used));
      }
      if (kept) return { ...kept, usage };
      const providers = new Map(
        (await trx.selectFrom('resource_providers').selectAll().orderBy('created_at').orderBy('uuid').execute()).map(
          (r) => [r.uuid as string, toProvider(r)],
        ),
      );
      const inventories = new Map<string, Map<string, Inventory>>();
      for (const r of await trx.selectFrom('inventories').selectAll().execute()) {
        const m = inventories.get(r.rp_uuid) ?? new Map();
        inventories.set(r.rp_uuid, m);
        m.set(r.resource_class, toInventory(r));
      }
      const traits = new Map<string, Set<string>>();
      for (const r of await trx.selectFrom('provider_traits').selectAll().execute()) {
        const s = traits.get(r.rp_uuid) ?? new Set();
        traits.set(r.rp_uuid, s);
        s.add(r.trait);
      }
      const aggregates = new Map<string, Set<string>>();
      for (const r of await trx.selectFrom('provider_aggregates').selectAll().execute()) {
        const s = aggregates.get(r.rp_uuid) ?? new Set();
        aggregates.set(r.rp_uuid, s);
        s.add(r.aggregate_uuid);
      }
      if (rev >= 0) this.cached = { revision: rev, snapshot: { providers, inventories, traits, aggregates } };
      return { providers, inventories, usage, traits, aggregates };
    });
  }
  private cached?: { revision: number; snapshot: Omit<Snapshot, 'usage'> };
}
