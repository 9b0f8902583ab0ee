// The data planes the network service knows, by the name `network.dataplane` selects.
import type { DataplaneDriver, Mechanism } from './dataplane.ts';
import { LogicalDriver, logicalMechanism } from './logical.ts';

export interface Dataplane {
  mechanism: Mechanism;
  create(): DataplaneDriver;
}

export const DATAPLANES: Record<string, Dataplane> = {
  logical: { mechanism: logicalMechanism, create: () => new LogicalDriver() },
};

export function dataplane(name: string | undefined): Dataplane {
  const d = DATAPLANES[name ?? 'logical'];
  if (!d) throw new Error(`unknown network dataplane '${name}' (known: ${Object.keys(DATAPLANES).join(', ')})`);
  return d;
}
