/**
 * The apps (PaaS) resource shapes, shared by service, controller, router,
 * SDK and CLI. An `app` holds the template of what runs plus how many
 * copies; each distinct template becomes an immutable `app-revision` owned
 * by the app; replicas are compute `instance`s owned by the app and
 * labelled `app=<name>`, `revision=<n>`.
 */

export type Runtime = 'image' | 'node' | 'python' | 'static';

export interface HealthCheck {
  /** `http`: GET `path` answers 200-399. `tcp`: a connect succeeds. */
  type: 'http' | 'tcp';
  path?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  /** Consecutive successes before a replica receives traffic. */
  healthyThreshold?: number;
  /** Consecutive failures before a replica leaves the router. */
  unhealthyThreshold?: number;
}

/** An uploaded source archive (see source.ts), built into an image per revision. */
export interface AppSourceRef {
  sha256: string;
  runtime: Exclude<Runtime, 'image'>;
  sizeBytes: number;
}

export interface SecretRef {
  /** Environment variable the value lands in. */
  env: string;
  /** `app-secret` (or with `configMap: true`, `app-config`) resource name. */
  secret: string;
  key: string;
  configMap?: boolean;
}

/** What a revision freezes: everything that changes what a replica runs. */
export interface AppTemplate {
  /** Image name in yun's image store (mutually exclusive with `source`). */
  image?: string;
  source?: AppSourceRef;
  /** Replaces the image's entrypoint (argv, never a host shell). */
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  secretRefs?: SecretRef[];
  /** Whole `app-secret`/`app-config` objects exposed as environment variables. */
  envFrom?: { secret?: string; configMap?: string }[];
  /** The port the replica listens on. */
  port: number;
  flavor?: string;
  cpus?: number;
  memoryMb?: number;
  healthCheck?: HealthCheck;
}

export interface RolloutStrategy {
  /** Extra replicas allowed during a rollout: a count or a percentage like `25%`. Default 25% (rounded up). */
  maxSurge?: number | string;
  /** Replicas that may be unready during a rollout. Default 25% (rounded down). */
  maxUnavailable?: number | string;
}

export interface AppSpec extends AppTemplate {
  replicas: number;
  /** Extra host names the router serves this app on. */
  domains?: string[];
  /** Router path prefix (default `/`): requests must start with it. */
  pathPrefix?: string;
  strategy?: RolloutStrategy;
  /** Revisions kept for rollback (default 10). */
  revisionHistoryLimit?: number;
  /** Free text recorded on the revision a change creates (`kubernetes.io/change-cause`). */
  changeCause?: string;
}

export type AppState = 'Pending' | 'Progressing' | 'Available' | 'Degraded' | 'CrashLoopBackOff' | 'Failed' | 'Deleting';

export interface ReplicaStatus {
  name: string;
  revision: number;
  state: string;
  ready: boolean;
  address?: string;
  restartCount?: number;
}

export interface AppStatus {
  state?: AppState;
  message?: string;
  currentRevision?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  replicaStatus?: ReplicaStatus[];
  url?: string;
  observedGeneration?: number;
  /** Last lines of a crash-looping replica's log. */
  lastLog?: string;
  conditions?: import('../core/resource.ts').Condition[];
  [k: string]: unknown;
}

export interface RevisionSpec {
  revision: number;
  template: AppTemplate;
  templateHash: string;
  changeCause?: string;
}

export interface RevisionStatus {
  /** `ready`: replicas can be made; `building`: the source image is being built; `failed`: the build failed. */
  state?: 'building' | 'ready' | 'failed';
  /** Image the replicas of this revision run (built from source, or the template's image). */
  image?: string;
  reason?: string;
  buildLog?: string;
  [k: string]: unknown;
}
