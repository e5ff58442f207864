import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { findProtoFile } from './proto-path.js';

/** The loaded node/proto/raft.proto. Loaded once per process, on first use. */
let loaded: protoLoader.PackageDefinition | undefined;

export function peerPackageDefinition(): protoLoader.PackageDefinition {
  loaded ??= protoLoader.loadSync(findProtoFile('raft.proto'), {
    keepCase: false,
    longs: Number, // decoded uint64 as numbers: any value of 2^53 or more comes out at or above 2^53, which the codec refuses
    enums: Number,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  return loaded;
}

/** The `kuorum.v1.Peer` service, as passed to grpc.Server#addService. */
export function peerServiceDefinition(): grpc.ServiceDefinition {
  return peerPackageDefinition()['kuorum.v1.Peer'] as grpc.ServiceDefinition;
}

/** Enum value names of a `kuorum.v1` enum, indexed by number. */
export function protoEnumValues(enumName: string): Map<number, string> {
  const def = peerPackageDefinition()[`kuorum.v1.${enumName}`] as protoLoader.EnumTypeDefinition | undefined;
  if (!def) throw new Error(`enum kuorum.v1.${enumName} is not in raft.proto`);
  const values = (def.type as { value: { name: string; number: number }[] }).value;
  return new Map(values.map((v) => [v.number, v.name]));
}

export const METHOD = {
  messageStream: 'MessageStream',
  sendSnapshot: 'SendSnapshot',
  forward: 'Forward',
} as const;

/** Full method definition (path, serializers) of one Peer RPC. */
export function peerMethod(name: (typeof METHOD)[keyof typeof METHOD]): grpc.MethodDefinition<unknown, unknown> {
  const method = peerServiceDefinition()[name];
  if (!method) throw new Error(`method ${name} is not in kuorum.v1.Peer`);
  return method;
}
