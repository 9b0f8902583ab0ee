// The data planes the network service knows, by the name `network.dataplane` selects.
import type { NetworkConfig } from '../config.ts';
import type { DataplaneDriver, Mechanism } from './dataplane.ts';
import { LinuxBridgeDriver, linuxbridgeMechanism } from './linuxbridge/index.ts';
import { LogicalDriver, logicalMechanism } from './logical.ts';

export interface Dataplane {
  mechanism: Mechanism;
  /** dataDir: where a real data plane finds the cloud's secrets (the metadata proxy's shared secret). */
  create(cfg: Partial<NetworkConfig> | undefined, dataDir: string): DataplaneDriver;
}

export const DATAPLANES: Record<string, Dataplane> = {
  logical: { mechanism: logicalMechanism, create: () => new LogicalDriver() },
  linuxbridge: { mechanism: linuxbridgeMechanism, create: (cfg, dataDir) => new LinuxBridgeDriver(cfg ?? {}, dataDir) },
};

export function dataplane(name: string | undefined): Dataplane {
  const d = DATAPLANES[name ?? 'logical'];
  if (!d) throw new Error(`unknown network dataplane '${name}' (known: ${Object.keys(DATAPLANES).join(', ')})`);
  return d;
}
