// Typed clients for the other services, one class per service, one microversion pin each, one
// HTTP stack (http.ts). Services reach each other only through these, with the service user's
// session (session.ts) or the caller's token.
export { ServiceSession } from './session.ts';
export { RestClient, type RestAnswer, type CallOptions } from './rest.ts';
export { PlacementClient, PLACEMENT_MICROVERSION } from './placement.ts';
export { NetworkClient } from './network.ts';
export { ImageClient } from './image.ts';
export { ComputeClient } from './compute.ts';
export { IdentityClient } from './identity.ts';
export { BlockStorageClient, BLOCK_STORAGE_MICROVERSION } from './block-storage.ts';
