// The config drive (nova/virt/configdrive.py): an ISO 9660 volume labelled `config-2` with the
// OpenStack tree of every version and `latest`, and the EC2 tree, made with genisoimage.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Instance } from '../instances.ts';
import { OPENSTACK_VERSIONS, ec2MetaData, openstackFiles, userData } from './content.ts';

const run = promisify(execFile);

export async function buildConfigDrive(instance: Instance, out: string): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-configdrive-'));
  try {
    const put = (rel: string, data: string | Buffer) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), data);
    };
    const files = openstackFiles(instance);
    for (const v of [...OPENSTACK_VERSIONS, 'latest'])
      for (const [name, data] of Object.entries(files)) put(`openstack/${v}/${name}`, data);
    for (const v of ['2009-04-04', 'latest']) {
      put(`ec2/${v}/meta-data.json`, JSON.stringify(ec2MetaData(instance)));
      const ud = userData(instance);
      if (ud) put(`ec2/${v}/user-data`, ud);
    }
    await run('genisoimage', [
      '-o',
      out,
      '-ldots',
      '-allow-lowercase',
      '-allow-multidot',
      '-l',
      '-publisher',
      'Stratus',
      '-quiet',
      '-J',
      '-r',
      '-V',
      'config-2',
      root,
    ]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
