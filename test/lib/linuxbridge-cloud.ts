// An in-process cloud whose network data plane is linuxbridge, for the tests that need root:
// the cloud started with the given network options, its networking API as `ok` (asserting a 2xx),
// guests (a namespace standing for the VM, its veth named like the port's tap on the host's side)
// and the clean-up of every namespace, bridge and rule made, also on failure.
import assert from 'node:assert/strict';
import { run } from '../../src/core/hostns.ts';
import { startCloud, type TestCloud } from './cloud.ts';
import { TestNet } from './netns.ts';

/** A response body, as TestCloud.req answers it. */
type Body = Awaited<ReturnType<TestCloud['req']>>['body'];

export interface LinuxbridgeCloud {
  c: TestCloud;
  /** A networking API request that must succeed; answers the body. */
  ok(method: string, path: string, body?: unknown): Promise<Body>;
  /** A guest namespace on `host` whose eth0 is the port's tap (the MAC of the port, the VXLAN MTU). */
  plugGuest(guest: string, host: string, port: { id: string; mac_address: string }): Promise<void>;
  /** Asks for a DHCP lease inside the guest (busybox udhcpc); answers what it printed. */
  dhcpLease(guest: string): Promise<string>;
  /** Stops the cloud and removes the guests and the hosts' data plane. */
  stop(): Promise<void>;
}

/** Starts a cloud with `network.dataplane: linuxbridge` and the given network options; `hosts` are cleaned up at stop. */
export async function startLinuxbridgeCloud(
  network: Record<string, unknown>,
  hosts: string[],
): Promise<LinuxbridgeCloud> {
  let c: TestCloud;
  const net = new TestNet(hosts);
  try {
    c = await startCloud({
      configure: (cfg) => {
        cfg.network = { ...cfg.network, dataplane: 'linuxbridge', agentReportInterval: 1, ...network };
      },
    });
  } catch (err) {
    await net.remove();
    throw err;
  }
  const api = (p: string) => `${c.url}/networking/v2.0${p}`;
  return {
    c,
    async ok(method, p, body) {
      const r = await c.req(method, api(p), body);
      assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    plugGuest: (guest, host, port) => net.guest(guest, { host, portId: port.id, mac: port.mac_address }),
    dhcpLease: (guest) =>
      run(['busybox', 'sh', '-c', 'busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s /bin/true 2>&1'], { ns: guest }),
    async stop() {
      try {
        await c.stop();
      } finally {
        await net.remove();
      }
    },
  };
}
