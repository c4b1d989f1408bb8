/** TypeBox schemas of the apps kinds (REST validation and OpenAPI). */
import { Type } from '@sinclair/typebox';

const EnvName = { pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256 };
const Name = Type.String({ minLength: 1, maxLength: 63 });
const Count = Type.Union([Type.Integer({ minimum: 0, maximum: 1000 }), Type.String({ pattern: '^(100|[1-9]?[0-9])%$' })]);

export const HealthCheckSchema = Type.Object({
  type: Type.Union([Type.Literal('http'), Type.Literal('tcp')]),
  path: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024 })),
  intervalSeconds: Type.Optional(Type.Number({ minimum: 0.1, maximum: 300 })),
  timeoutSeconds: Type.Optional(Type.Number({ minimum: 0.05, maximum: 60 })),
  healthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
  unhealthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
}, { additionalProperties: false });

export const AppSpecSchema = Type.Object({
  image: Type.Optional(Name),
  source: Type.Optional(Type.Object({
    sha256: Type.String({ pattern: '^[a-f0-9]{64}$' }),
    runtime: Type.Union([Type.Literal('node'), Type.Literal('python'), Type.Literal('static')]),
    sizeBytes: Type.Integer({ minimum: 0 }),
  }, { additionalProperties: false })),
  command: Type.Optional(Type.Array(Type.String({ maxLength: 65536 }), { minItems: 1, maxItems: 1024 })),
  args: Type.Optional(Type.Array(Type.String({ maxLength: 65536 }), { maxItems: 1024 })),
  env: Type.Optional(Type.Record(Type.String(EnvName), Type.String({ maxLength: 65536 }))),
  secretRefs: Type.Optional(Type.Array(Type.Object({
    env: Type.String(EnvName), secret: Name, key: Type.String({ minLength: 1, maxLength: 253 }), configMap: Type.Optional(Type.Boolean()),
  }, { additionalProperties: false }), { maxItems: 256 })),
  envFrom: Type.Optional(Type.Array(Type.Object({ secret: Type.Optional(Name), configMap: Type.Optional(Name) }, { additionalProperties: false }), { maxItems: 32 })),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  flavor: Type.Optional(Name),
  cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
  memoryMb: Type.Optional(Type.Integer({ minimum: 16 })),
  healthCheck: Type.Optional(HealthCheckSchema),
  replicas: Type.Integer({ minimum: 0, maximum: 1000 }),
  domains: Type.Optional(Type.Array(Type.String({ pattern: '^(\\*\\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', maxLength: 253 }), { maxItems: 32 })),
  pathPrefix: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024 })),
  strategy: Type.Optional(Type.Object({ maxSurge: Type.Optional(Count), maxUnavailable: Type.Optional(Count) }, { additionalProperties: false })),
  revisionHistoryLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  changeCause: Type.Optional(Type.String({ maxLength: 1024 })),
}, { additionalProperties: false });

/** `app-config` (ConfigMap) and `app-secret` (Secret): string maps. */
export const DataSpecSchema = Type.Object({
  data: Type.Record(Type.String({ pattern: '^[-._a-zA-Z0-9]{1,253}$' }), Type.String({ maxLength: 1 << 20 })),
}, { additionalProperties: false });

/** `app-autoscaler`: an HPA stored as a policy for the autoscaler service. */
export const AutoscalerSpecSchema = Type.Object({
  target: Type.Object({ kind: Type.Literal('app'), name: Name }, { additionalProperties: false }),
  minReplicas: Type.Integer({ minimum: 0, maximum: 1000 }),
  maxReplicas: Type.Integer({ minimum: 1, maximum: 1000 }),
  metrics: Type.Array(Type.Object({
    /** `cpu`/`memory`: average utilization %; `requests-per-second`: per replica. */
    type: Type.Union([Type.Literal('cpu'), Type.Literal('memory'), Type.Literal('requests-per-second')]),
    target: Type.Number({ exclusiveMinimum: 0 }),
  }, { additionalProperties: false }), { maxItems: 8 }),
}, { additionalProperties: false });

export interface AutoscalerSpec {
  target: { kind: 'app'; name: string };
  minReplicas: number;
  maxReplicas: number;
  metrics: { type: 'cpu' | 'memory' | 'requests-per-second'; target: number }[];
}
