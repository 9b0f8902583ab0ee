// Placement as the other services call it (Nova's report client), pinned at one microversion:
// 1.36, where allocations carry consumer generations, project and user (1.28, 1.8), provider
// aggregates carry the provider generation (1.19) and allocations have no consumer_type yet (1.38).
import { RestClient, type RestAnswer, query, seg } from './rest.ts';
import type { ServiceSession } from './session.ts';

export const PLACEMENT_MICROVERSION = '1.36';

export interface ResourceProvider {
  uuid: string;
  name: string;
  generation: number;
  parent_provider_uuid?: string | null;
  root_provider_uuid?: string;
}
export type Resources = Record<string, number>;
export interface Inventory {
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
}
/** A consumer's allocations (GET /allocations/{consumer}). */
export interface ConsumerAllocations {
  allocations: Record<string, { resources: Resources; generation?: number }>;
  project_id?: string;
  user_id?: string;
  consumer_generation?: number | null;
}
/** The body of PUT /allocations/{consumer} and of each consumer in POST /allocations. */
export interface AllocationClaim {
  allocations: Record<string, { resources: Resources }>;
  project_id: string | undefined;
  user_id: string | undefined;
  consumer_generation: number | null | undefined;
}
export interface AllocationCandidates {
  allocation_requests: Array<{ allocations: Record<string, { resources: Resources }> }>;
  provider_summaries: Record<
    string,
    { resources: Record<string, { capacity: number; used: number }>; traits?: string[] }
  >;
}

export class PlacementClient extends RestClient {
  constructor(session: ServiceSession) {
    super(session, 'placement', { 'OpenStack-API-Version': `placement ${PLACEMENT_MICROVERSION}` });
  }

  getProvider(uuid: string): Promise<RestAnswer<ResourceProvider>> {
    return this.request('GET', `/resource_providers/${seg(uuid)}`);
  }
  createProvider(p: {
    uuid: string;
    name: string;
    parent_provider_uuid?: string;
  }): Promise<RestAnswer<ResourceProvider>> {
    return this.request('POST', '/resource_providers', p);
  }
  async providersNamed(name: string): Promise<ResourceProvider[]> {
    const b = await this.ok<{ resource_providers: ResourceProvider[] }>('GET', `/resource_providers${query({ name })}`);
    return b.resource_providers ?? [];
  }
  deleteProvider(uuid: string): Promise<RestAnswer> {
    return this.request('DELETE', `/resource_providers/${seg(uuid)}`);
  }
  putInventories(uuid: string, generation: number, inventories: Record<string, Inventory>): Promise<RestAnswer> {
    return this.request('PUT', `/resource_providers/${seg(uuid)}/inventories`, {
      resource_provider_generation: generation,
      inventories,
    });
  }
  getTraits(uuid: string): Promise<RestAnswer<{ traits: string[]; resource_provider_generation: number }>> {
    return this.request('GET', `/resource_providers/${seg(uuid)}/traits`);
  }
  putTraits(uuid: string, generation: number, traits: string[]): Promise<RestAnswer> {
    return this.request('PUT', `/resource_providers/${seg(uuid)}/traits`, {
      resource_provider_generation: generation,
      traits,
    });
  }
  getAggregates(uuid: string): Promise<RestAnswer<{ aggregates: string[]; resource_provider_generation: number }>> {
    return this.request('GET', `/resource_providers/${seg(uuid)}/aggregates`);
  }
  putAggregates(uuid: string, generation: number, aggregates: string[]): Promise<RestAnswer> {
    return this.request('PUT', `/resource_providers/${seg(uuid)}/aggregates`, {
      aggregates,
      resource_provider_generation: generation,
    });
  }

  getAllocations(consumer: string): Promise<RestAnswer<ConsumerAllocations | undefined>> {
    return this.request('GET', `/allocations/${seg(consumer)}`);
  }
  /** Claims (or replaces) a consumer's allocations: 204, or 409 on a generation or capacity conflict. */
  putAllocations(consumer: string, claim: AllocationClaim): Promise<RestAnswer> {
    return this.request('PUT', `/allocations/${seg(consumer)}`, claim);
  }
  /** Several consumers' allocations in one atomic request (moves). */
  postAllocations(claims: Record<string, AllocationClaim>): Promise<RestAnswer> {
    return this.request('POST', '/allocations', claims);
  }
  deleteAllocations(consumer: string): Promise<RestAnswer> {
    return this.request('DELETE', `/allocations/${seg(consumer)}`);
  }
  allocationCandidates(resources: Resources, limit = 1000): Promise<RestAnswer<AllocationCandidates>> {
    const r = Object.entries(resources)
      .map(([k, v]) => `${k}:${v}`)
      .join(',');
    // The resources list is sent unescaped, as Nova's report client does (commas and colons are its syntax).
    return this.request('GET', `/allocation_candidates?resources=${r}&limit=${limit}`);
  }
}
