// The public API of sourdough. Everything not exported here is internal.
export { DurableObject, type DurableObjectState, type DurableObjectClass } from "./object/durable-object.ts";
export { ClusterCoordinator, type ClusterCoordinatorOptions } from "./coordinator/cluster-coordinator.ts";
export type { HostInfo, HostState } from "./coordinator/host-process.ts";
export { DurableObjectNamespace, withCallOptions, type DurableObjectStub } from "./rpc/stub.ts";
export { RpcTarget, type RpcStub, type RpcPromise, type RpcHandle } from "./rpc/capabilities.ts";
export type { CallOptions } from "./rpc/rpc-client.ts";
export type { RemoteErrorFields } from "./rpc/remote-error.ts";
export type { GeneratedModule, MethodCodec } from "./rpc/generated.ts";
export { DurableObjectId } from "./ids.ts";
export { route, type IdExtractor } from "./http/route.ts";
export { serve, type ServeHandle, type ServeOptions, type Worker, type ExecutionContext } from "./http/serve.ts";
export { SourdoughError, ErrorCode } from "./errors.ts";
export { WebSocketPair, WebSocketRequestResponsePair, type WebSocket } from "./websocket/web-socket.ts";
export type { WebSocketGatewayOptions } from "./websocket/gateway.ts";
export type { Logger, LogFields, LogFormat } from "./ops/logger.ts";
export type { ClusterHealth, HostHealth, IsolateHealth } from "./ops/health.ts";
export type { ObjectStorage as DurableObjectStorage, ListOptions, SyncKvStorage } from "./storage/object-storage.ts";
export type { SqlStorage, SqlStorageCursor, SqlStorageValue } from "./storage/sql-cursor.ts";
// Branded number types for sourdough-gen: plain numbers are assignable; the schema uses these widths.
export type { Float64, Float32, Int8, Int16, Int32, UInt8, UInt16, UInt32, Int64, UInt64, UInt64n } from "../codegen/wire-types.ts";
