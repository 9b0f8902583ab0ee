// Where backups go: Stratus's own object store, through its public Swift API with the cinder
// service token (as Cinder's Swift backup driver): a container, one object per chunk and a
// metadata object per backup.
import type { ServiceSession } from '../core/clients/session.ts';

export class ObjectStoreClient {
  constructor(private session: ServiceSession) {}

  private async url(container: string, object?: string) {
    const base = (await this.session.endpoint('object-store')).replace(/\/+$/, '');
    return `${base}/${encodeURIComponent(container)}${object ? `/${object.split('/').map(encodeURIComponent).join('/')}` : ''}`;
  }

  async ensureContainer(container: string) {
    const res = await this.session.fetch(await this.url(container), { method: 'PUT' });
    await res.arrayBuffer();
    if (res.status >= 300) throw new Error(`object store: PUT container ${container} answered ${res.status}`);
  }

  async put(container: string, object: string, data: Uint8Array) {
    const res = await this.session.fetch(await this.url(container, object), {
      method: 'PUT',
      body: data as unknown as BodyInit,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    await res.arrayBuffer();
    if (res.status >= 300) throw new Error(`object store: PUT ${container}/${object} answered ${res.status}`);
  }

  async get(container: string, object: string): Promise<Buffer> {
    const res = await this.session.fetch(await this.url(container, object));
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`object store: GET ${container}/${object} answered ${res.status}`);
    return body;
  }

  async delete(container: string, object: string) {
    const res = await this.session.fetch(await this.url(container, object), { method: 'DELETE' });
    await res.arrayBuffer();
    if (res.status >= 300 && res.status !== 404)
      throw new Error(`object store: DELETE ${container}/${object} answered ${res.status}`);
  }
}
