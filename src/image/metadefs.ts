// Seed content of the metadata definitions catalog: the resource types and the namespaces
// whose hw_* / os_* properties compute reads from images and flavors (a subset of Glance's
// etc/metadefs/*.json).
import type { Kysely } from 'kysely';
import { bool, isUniqueViolation, now } from '../core/db.ts';
import { ApiError } from '../core/errors.ts';
import type { ImageDb } from './db/schema.ts';
export const RESOURCE_TYPES = [
  'OS::Glance::Image',
  'OS::Cinder::Volume',
  'OS::Nova::Flavor',
  'OS::Nova::Aggregate',
  'OS::Nova::Server',
  'OS::Trove::Instance',
  'OS::Glance::Snapshot',
];

const str = (title: string, description: string, e?: string[]) => ({
  title,
  description,
  type: 'string',
  ...(e ? { enum: e } : {}),
});
const boolean = (title: string, description: string) => ({ title, description, type: 'boolean' });

/** A namespace Glance loads from etc/metadefs at start. */
interface SeedNamespace {
  namespace: string;
  display_name: string;
  description: string;
  resource_type_associations: Array<{ name: string; prefix?: string; properties_target?: string }>;
  properties: Record<string, Record<string, unknown>>;
}

/** The disk controllers libvirt offers for disks and CD-ROMs. */
const DISK_BUSES = ['scsi', 'virtio', 'uml', 'xen', 'ide', 'usb', 'fdc', 'sata'];

export const SEED_NAMESPACES: SeedNamespace[] = [
  {
    namespace: 'OS::Compute::LibvirtImage',
    display_name: 'libvirt Driver Options for Images',
    description: 'The libvirt compute driver options. These are properties specific to compute drivers.',
    resource_type_associations: [{ name: 'OS::Glance::Image' }],
    properties: {
      hw_disk_bus: str('Disk Bus', 'Specifies the type of disk controller to attach disk devices to.', DISK_BUSES),
      hw_cdrom_bus: str('CD-ROM Bus', 'Specifies the type of disk controller to attach CD-ROM devices to.', DISK_BUSES),
      hw_vif_model: str(
        'Virtual Network Interface',
        'Specifies the model of virtual network interface device to use.',
        ['e1000', 'ne2k_pci', 'pcnet', 'rtl8139', 'virtio', 'e1000e', 'vmxnet3'],
      ),
      hw_scsi_model: str('SCSI Model', 'Specifies the type of SCSI controller.', ['virtio-scsi']),
      hw_video_model: str('Video Model', 'The video image driver used.', [
        'vga',
        'cirrus',
        'vmvga',
        'xen',
        'qxl',
        'virtio',
        'gop',
        'none',
        'bochs',
      ]),
      hw_machine_type: str('Machine Type', 'Enables booting an ARM system using the specified machine type.'),
      hw_qemu_guest_agent: str('QEMU Guest Agent', 'Whether the guest runs the QEMU guest agent.', ['yes', 'no']),
      hw_rng_model: str(
        'Random Number Generator Device',
        "Adds a random-number generator device to the image's instances.",
        ['virtio'],
      ),
      hw_firmware_type: str('Firmware Type', 'The firmware type of the instance.', ['bios', 'uefi']),
      os_require_quiesce: boolean(
        'Require Quiescent File system',
        'Require quiescent file system when taking a snapshot.',
      ),
    },
  },
  {
    namespace: 'OS::OperatingSystem',
    display_name: 'Common Operating System Properties',
    description:
      'Details of the operating system contained within this image as well as common operating system properties that can be set on a VM instance created from this image.',
    resource_type_associations: [{ name: 'OS::Glance::Image' }, { name: 'OS::Cinder::Volume' }],
    properties: {
      os_distro: str('OS Distro', 'The common name of the operating system distribution in lowercase.'),
      os_version: str('OS Version', 'Operating system version as specified by the distributor.'),
      os_type: str('OS Type', 'The operating system installed on the image.', ['linux', 'windows']),
      os_admin_user: str('Admin User', 'The name of the user with admin privileges.'),
    },
  },
  {
    namespace: 'OS::Compute::CPUTopology',
    display_name: 'Virtual CPU Topology',
    description: 'Image properties and flavor extra specs that control the virtual CPU topology of instances.',
    resource_type_associations: [
      { name: 'OS::Glance::Image', prefix: 'hw_' },
      { name: 'OS::Cinder::Volume', prefix: 'hw_', properties_target: 'image' },
      { name: 'OS::Nova::Flavor', prefix: 'hw:' },
    ],
    properties: {
      cpu_sockets: {
        title: 'vCPU Sockets',
        description: 'Preferred number of sockets to expose to the guest.',
        type: 'integer',
      },
      cpu_cores: {
        title: 'vCPU Cores',
        description: 'Preferred number of cores to expose to the guest.',
        type: 'integer',
      },
      cpu_threads: {
        title: 'vCPU Threads',
        description: 'Preferred number of threads to expose to the guest.',
        type: 'integer',
      },
      cpu_max_sockets: {
        title: 'Max vCPU Sockets',
        description: 'Maximum number of sockets to expose to the guest.',
        type: 'integer',
      },
    },
  },
];

export interface Stamp {
  created_at: string;
  updated_at: string;
}
export interface Namespace extends Stamp {
  namespace: string;
  display_name?: string;
  description?: string;
  visibility: string;
  protected: boolean;
  owner: string | null;
  resource_type_associations: Array<Stamp & { name: string; prefix?: string; properties_target?: string }>;
  properties: Record<string, Record<string, unknown>>;
  objects: Array<
    Stamp & { name: string; description?: string; required?: string[]; properties?: Record<string, unknown> }
  >;
  tags: Array<Stamp & { name: string }>;
}

/** The namespaces, one JSON document each (its objects, properties, tags and resource type associations inside). */
export class MetadefStore {
  constructor(private readonly db: Kysely<ImageDb>) {}

  async get(name: string): Promise<Namespace | undefined> {
    const r = await this.db
      .selectFrom('metadef_namespaces')
      .selectAll()
      .where('namespace', '=', name)
      .executeTakeFirst();
    return r ? { ...(JSON.parse(r.doc) as Namespace), protected: bool(r.protected) } : undefined;
  }
  async list(): Promise<Namespace[]> {
    const rows = await this.db.selectFrom('metadef_namespaces').selectAll().orderBy('created_at').execute();
    return rows.map((r) => ({ ...(JSON.parse(r.doc) as Namespace), protected: bool(r.protected) }));
  }
  async delete(name: string) {
    await this.db.deleteFrom('metadef_namespaces').where('namespace', '=', name).execute();
  }
  async insert(n: Namespace) {
    try {
      await this.db
        .insertInto('metadef_namespaces')
        .values({
          namespace: n.namespace,
          owner: n.owner,
          visibility: n.visibility,
          protected: n.protected ? 1 : 0,
          doc: JSON.stringify(n),
          created_at: n.created_at,
          updated_at: n.updated_at,
        })
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError(409, `Metadata definition namespace=${n.namespace} already exists.`);
      throw e;
    }
  }
  async save(n: Namespace, oldName = n.namespace) {
    n.updated_at = now();
    try {
      await this.db
        .updateTable('metadef_namespaces')
        .set({
          namespace: n.namespace,
          owner: n.owner,
          visibility: n.visibility,
          protected: n.protected ? 1 : 0,
          doc: JSON.stringify(n),
          updated_at: n.updated_at,
        })
        .where('namespace', '=', oldName)
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError(409, `Metadata definition namespace=${n.namespace} already exists.`);
      throw e;
    }
  }
  /** The seed namespaces, the first time the service starts. */
  async seed() {
    const any = await this.db.selectFrom('metadef_namespaces').select('namespace').limit(1).execute();
    if (any.length) return;
    const t = now();
    for (const s of SEED_NAMESPACES) {
      await this.insert({
        namespace: s.namespace,
        display_name: s.display_name,
        description: s.description,
        visibility: 'public',
        protected: true,
        owner: 'admin',
        resource_type_associations: s.resource_type_associations.map((r) => ({ ...r, created_at: t, updated_at: t })),
        properties: s.properties,
        objects: [],
        tags: [],
        created_at: t,
        updated_at: t,
      });
    }
  }
}
