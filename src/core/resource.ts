/**
 * The resource model every service shares (Kubernetes API conventions):
 * metadata + spec (what the user wants) + status (what is true). User writes
 * touch spec and bump `generation`; controllers write status through a
 * separate path and record the generation they acted on.
 */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

export interface ResourceStatus {
  state?: string;
  conditions?: Condition[];
  observedGeneration?: number;
  [k: string]: unknown;
}

export interface Resource<Spec = Record<string, unknown>, Status extends ResourceStatus = ResourceStatus> {
  id: string;
  kind: string;
  project: string;
  name: string;
  labels: Record<string, string>;
  spec: Spec;
  status: Status;
  generation: number;
  /** Changes on every write (spec or status); used as the ETag. */
  resourceVersion: number;
  createdAt: string;
  updatedAt: string;
  /** Set when deletion was asked for and finalizers (controllers) still have work to do. */
  deletionTimestamp?: string;
  /** Owner reference: the resource this one belongs to. */
  ownerId?: string;
}

/** Project value for cluster-wide resources (flavors, hosts, pools). */
export const SYSTEM_PROJECT = '_system';

export function setCondition(conds: Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now = new Date()): Condition[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    ...c,
    lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString(),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}
