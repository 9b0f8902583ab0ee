// The data planes the network service knows, by the name `network.dataplane` selects.
import type { NetworkConfig } from '../config.ts';
import type { DataplaneDriver, Mechanism } from './dataplane.ts';
import { LinuxBridgeDriver, linuxbridgeMechanism } from './linuxbridge/index.ts';
import { LogicalDriver, logicalMechanism } from './logical.ts';

export interface Dataplane {
  mechanism: Mechanism;
  create(cfg?: Partial<NetworkConfig>): DataplaneDriver;
}

export const DATAPLANES: Record<string, Dataplane> = {
  logical: { mechanism: logicalMechanism, create: () => new LogicalDriver() },
  linuxbridge: { mechanism: linuxbridgeMechanism, create: (cfg) => new LinuxBridgeDriver(cfg ?? {}) },
};

export function dataplane(name: string | undefined): Dataplane {
  const d = DATAPLANES[name ?? 'logical'];
  if (!d) throw new Error(`unknown network dataplane '${name}' (known: ${Object.keys(DATAPLANES).join(', ')})`);
  return d;
}
