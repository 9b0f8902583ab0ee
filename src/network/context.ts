// The network service's request context: core's RequestContext (who calls, with which roles,
// policy through it) plus what one API call carries down through the resource hooks: the
// agent notifications that wait for its transaction to commit, the rules of a bulk security
// group rule create, the network facts a port create already looked up. An elevated copy
// (Neutron's context.elevated(), for the ports a router or floating IP owns) shares that state
// with the caller's context, so what it queues runs when the caller's transaction commits.
import type { AuthContext } from '../core/auth.ts';
import { RequestContext } from '../core/context.ts';
import type { PolicyEngine } from '../core/policy/index.ts';
import type { NetInfo } from './api/core_common.ts';

/** The state of one API call, shared by its context and the elevated copies made from it. */
export interface CallState {
  /** Steps that run once the call's transaction committed (dropped when it rolled back). */
  afterCommit: Array<() => unknown>;
  /** A bulk security group rule create: one group of one project, rule ids seen so far. */
  ruleBulk?: { sgId: string; projectId: string; ids: Set<string> };
  /** The groups whose rules named a deleted security group as their remote. */
  removedRemoteRules?: string[];
  /** The network facts a port create looked up for its policy target, reused for its view. */
  netInfo?: Map<string, NetInfo>;
}

/** The neutron service user, as the agents' RPC server and the internal callers act. */
const SERVICE_AUTH: AuthContext = {
  token: '',
  userId: 'neutron',
  userName: 'neutron',
  userDomainId: 'default',
  userDomainName: 'Default',
  roles: ['admin'],
  roleIds: [],
  methods: [],
  auditIds: [],
  expiresAt: '',
  issuedAt: '',
  isAdminProject: true,
};

export class NetworkContext extends RequestContext {
  constructor(
    auth: AuthContext | undefined,
    requestId: string | undefined,
    policy: PolicyEngine | undefined,
    /** Roles elevated() added. */
    private readonly granted: readonly string[] = [],
    readonly call: CallState = { afterCommit: [] },
    /** The context http.ts built for the request: told when a rule was enforced. */
    private readonly origin?: RequestContext,
    /** The service's own calls (agents' RPC, notifiers): every rule allows them. */
    readonly internal = false,
  ) {
    super(auth, requestId, policy, granted);
  }

  /** The context of an API request (handlers: `NetworkContext.of(req.context)`). */
  static of(rc: RequestContext): NetworkContext {
    return new NetworkContext(rc.auth, rc.requestId, rc.policy, [], { afterCommit: [] }, rc);
  }

  /** The service acting on its own behalf (no request behind it): admin, every rule allowed. */
  static internal(policy: PolicyEngine, requestId = 'internal'): NetworkContext {
    return new NetworkContext(SERVICE_AUTH, requestId, policy, [], { afterCommit: [] }, undefined, true);
  }

  /** Records that the call's authorization was decided (a list filters per item with allowed()). */
  markEnforced(): void {
    this.enforced = true;
    if (this.origin) this.origin.enforced = true;
  }

  override allowed(rule: string, target: Record<string, unknown> = {}): boolean {
    return this.internal || super.allowed(rule, target);
  }

  override authorize(rule: string, target: Record<string, unknown> = {}): void {
    this.markEnforced();
    if (!this.internal) super.authorize(rule, target);
  }

  override elevated(): NetworkContext {
    if (this.roles.includes('admin')) return this;
    return new NetworkContext(
      this.auth,
      this.requestId,
      this.policy,
      [...this.granted, 'admin'],
      this.call,
      this.origin,
      this.internal,
    );
  }

  /** Queues a step for after the call's transaction committed (see inTransaction in api/l3_common.ts). */
  afterCommit(fn: () => unknown): void {
    this.call.afterCommit.push(fn);
  }
}
