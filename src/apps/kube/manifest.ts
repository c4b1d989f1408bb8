/**
 * Kubernetes manifests → yun objects (a protocol edge: nothing below this
 * file knows about Kubernetes). Reads multi-document YAML and maps
 *   v1 Namespace → project · apps/v1 Deployment → app · v1 Service → app
 *   routing (stored as `app-service`) · autoscaling/v2 HorizontalPodAutoscaler
 *   → `app-autoscaler` policy · v1 ConfigMap → `app-config` · v1 Secret →
 *   `app-secret`.
 * Fields yun does not support become warnings with their path; an unknown
 * kind or a bad field is an error naming the file, document index and path.
 */
import { parseAllDocuments } from 'yaml';
import { YunError } from '../../core/errors.ts';
import type { AutoscalerSpec } from '../schema.ts';
import type { AppSpec, HealthCheck, SecretRef } from '../types.ts';

export interface Warning { document: number; path: string; message: string }

export interface ServiceSpec {
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  selector: Record<string, string>;
  ports: { port: number; targetPort?: number; name?: string }[];
}

export type Mapped =
  | { document: number; source: string; yunKind: 'project'; name: string }
  | { document: number; source: string; yunKind: 'app'; name: string; labels: Record<string, string>; spec: AppSpec; selector: Record<string, string> }
  | { document: number; source: string; yunKind: 'app-service'; name: string; spec: ServiceSpec }
  | { document: number; source: string; yunKind: 'app-autoscaler'; name: string; spec: AutoscalerSpec }
  | { document: number; source: string; yunKind: 'app-config' | 'app-secret'; name: string; spec: { data: Record<string, string> } };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

class Ctx {
  readonly warnings: Warning[] = [];
  constructor(readonly file: string, readonly doc: number) {}
  fail(path: string, message: string): never {
    throw new YunError('ValidationFailed', `${this.file}: document ${this.doc}, ${path}: ${message}`, { field: path, details: { file: this.file, document: this.doc, path } });
  }
  warn(path: string, message: string): void {
    this.warnings.push({ document: this.doc, path, message });
  }
  /** Warns about every key of `o` not in `known`. */
  known(o: Obj, base: string, known: string[], why = 'not supported by yun; ignored'): void {
    for (const k of Object.keys(o)) if (!known.includes(k)) this.warn(`${base}/${k}`, why);
  }
  obj(v: unknown, path: string): Obj {
    if (v === undefined) return {};
    if (!isObj(v)) this.fail(path, 'must be a mapping');
    return v;
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || !v) this.fail(path, 'must be a non-empty string');
    return v;
  }
  int(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(path, 'must be an integer');
    return v;
  }
  strMap(v: unknown, path: string): Record<string, string> {
    const o = this.obj(v, path);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(o)) {
      if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') this.fail(`${path}/${k}`, 'must be a string');
      out[k] = String(x);
    }
    return out;
  }
}

/** `500m` → 0.5, `2` → 2. */
export function parseCpu(v: unknown, c: Ctx, path: string): number {
  const s = String(v);
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(s);
  if (!m) c.fail(path, `'${s}' is not a CPU quantity (e.g. 500m or 1)`);
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

/** `128Mi` → 128, `1Gi` → 1024, `100M` → 96 (MiB, rounded up). */
export function parseMemoryMb(v: unknown, c: Ctx, path: string): number {
  const s = String(v);
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$/.exec(s);
  if (!m) c.fail(path, `'${s}' is not a memory quantity (e.g. 128Mi)`);
  const mult: Record<string, number> = { '': 1, Ki: 1024, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, K: 1e3, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.ceil((Number(m[1]) * mult[m[2] ?? '']!) / 2 ** 20);
}

/** `registry/ns/busybox:1.36@sha…` → `busybox` (yun's image store is by name). */
export function imageName(ref: string, c: Ctx, path: string): string {
  const base = ref.split('@')[0]!.split('/').pop()!.split(':')[0]!;
  if (base !== ref) c.warn(path, `image '${ref}' resolved by name '${base}' in yun's image store (no registry, tags ignored)`);
  return base;
}

function probe(p: Obj, c: Ctx, path: string, port: number): HealthCheck {
  c.known(p, path, ['httpGet', 'tcpSocket', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold', 'initialDelaySeconds']);
  if (p.initialDelaySeconds !== undefined) c.warn(`${path}/initialDelaySeconds`, 'not needed: replicas receive traffic only after passing the check');
  const hc: HealthCheck = { type: 'tcp' };
  const target = isObj(p.httpGet) ? p.httpGet : isObj(p.tcpSocket) ? p.tcpSocket : c.fail(path, 'needs httpGet or tcpSocket (exec probes are not supported)');
  if (isObj(p.httpGet)) { hc.type = 'http'; hc.path = typeof p.httpGet.path === 'string' ? p.httpGet.path : '/'; }
  if (target.port !== undefined && typeof target.port === 'number' && target.port !== port) c.warn(`${path}/${hc.type === 'http' ? 'httpGet' : 'tcpSocket'}/port`, `probes go to the app port ${port}`);
  if (p.periodSeconds !== undefined) hc.intervalSeconds = c.int(p.periodSeconds, `${path}/periodSeconds`);
  if (p.timeoutSeconds !== undefined) hc.timeoutSeconds = c.int(p.timeoutSeconds, `${path}/timeoutSeconds`);
  if (p.successThreshold !== undefined) hc.healthyThreshold = c.int(p.successThreshold, `${path}/successThreshold`);
  if (p.failureThreshold !== undefined) hc.unhealthyThreshold = c.int(p.failureThreshold, `${path}/failureThreshold`);
  if (hc.timeoutSeconds && hc.intervalSeconds && hc.timeoutSeconds > hc.intervalSeconds) hc.timeoutSeconds = hc.intervalSeconds;
  return hc;
}

function container(ct: Obj, c: Ctx, p: string, spec: AppSpec): void {
  c.known(ct, p, ['name', 'image', 'command', 'args', 'env', 'envFrom', 'ports', 'resources', 'readinessProbe', 'livenessProbe', 'imagePullPolicy', 'workingDir']);
  if (ct.imagePullPolicy !== undefined) c.warn(`${p}/imagePullPolicy`, 'images come from yun\'s store; nothing is pulled');
  if (ct.workingDir !== undefined) c.warn(`${p}/workingDir`, 'not supported by yun; ignored');
  spec.image = imageName(c.str(ct.image, `${p}/image`), c, `${p}/image`);
  const strs = (v: unknown, path: string) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v as string[] : c.fail(path, 'must be a list of strings'));
  if (ct.command !== undefined) spec.command = strs(ct.command, `${p}/command`);
  if (ct.args !== undefined) spec.args = strs(ct.args, `${p}/args`);
  const env: Record<string, string> = {};
  const refs: SecretRef[] = [];
  for (const [i, e] of (Array.isArray(ct.env) ? ct.env : ct.env === undefined ? [] : c.fail(`${p}/env`, 'must be a list')).entries()) {
    const ep = `${p}/env/${i}`;
    const eo = c.obj(e, ep);
    const name = c.str(eo.name, `${ep}/name`);
    if (eo.value !== undefined) env[name] = String(eo.value);
    else if (isObj(eo.valueFrom)) {
      const vf = eo.valueFrom;
      const k = isObj(vf.secretKeyRef) ? vf.secretKeyRef : isObj(vf.configMapKeyRef) ? vf.configMapKeyRef : c.fail(`${ep}/valueFrom`, 'only secretKeyRef and configMapKeyRef are supported');
      refs.push({ env: name, secret: c.str(k.name, `${ep}/valueFrom/name`), key: c.str(k.key, `${ep}/valueFrom/key`), ...(isObj(vf.configMapKeyRef) ? { configMap: true } : {}) });
    } else env[name] = '';
  }
  if (Object.keys(env).length) spec.env = env;
  if (refs.length) spec.secretRefs = refs;
  if (Array.isArray(ct.envFrom)) {
    spec.envFrom = ct.envFrom.map((f, i) => {
      const fo = c.obj(f, `${p}/envFrom/${i}`);
      if (isObj(fo.secretRef)) return { secret: c.str(fo.secretRef.name, `${p}/envFrom/${i}/secretRef/name`) };
      if (isObj(fo.configMapRef)) return { configMap: c.str(fo.configMapRef.name, `${p}/envFrom/${i}/configMapRef/name`) };
      return c.fail(`${p}/envFrom/${i}`, 'needs secretRef or configMapRef');
    });
  }
  if (Array.isArray(ct.ports) && ct.ports.length) {
    spec.port = c.int(c.obj(ct.ports[0], `${p}/ports/0`).containerPort, `${p}/ports/0/containerPort`);
    if (ct.ports.length > 1) c.warn(`${p}/ports/1`, 'only the first container port is routed');
  }
  const r = c.obj(ct.resources, `${p}/resources`);
  const lim = { ...c.obj(r.requests, `${p}/resources/requests`), ...c.obj(r.limits, `${p}/resources/limits`) };
  if (lim.cpu !== undefined) spec.cpus = parseCpu(lim.cpu, c, `${p}/resources/limits/cpu`);
  if (lim.memory !== undefined) spec.memoryMb = Math.max(16, parseMemoryMb(lim.memory, c, `${p}/resources/limits/memory`));
  if (spec.cpus !== undefined && spec.memoryMb === undefined) spec.memoryMb = 128;
  if (spec.memoryMb !== undefined && spec.cpus === undefined) spec.cpus = 0.25;
  const rp = ct.readinessProbe ?? ct.livenessProbe;
  if (rp !== undefined && spec.port) spec.healthCheck = probe(c.obj(rp, `${p}/readinessProbe`), c, ct.readinessProbe ? `${p}/readinessProbe` : `${p}/livenessProbe`, spec.port);
  if (ct.readinessProbe && ct.livenessProbe) c.warn(`${p}/livenessProbe`, 'one health check drives both readiness and replacement: the readinessProbe is used');
}

function deployment(d: Obj, c: Ctx, name: string, meta: Obj): Mapped {
  c.known(d, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  const s = c.obj(d.spec, '/spec');
  c.known(s, '/spec', ['replicas', 'selector', 'template', 'strategy', 'revisionHistoryLimit', 'minReadySeconds', 'progressDeadlineSeconds']);
  const spec = { replicas: s.replicas === undefined ? 1 : c.int(s.replicas, '/spec/replicas') } as AppSpec;
  const tpl = c.obj(s.template, '/spec/template');
  const tmeta = c.obj(tpl.metadata, '/spec/template/metadata');
  const labels = c.strMap(tmeta.labels, '/spec/template/metadata/labels');
  const sel = c.obj(s.selector, '/spec/selector');
  const selector = c.strMap(sel.matchLabels, '/spec/selector/matchLabels');
  if (sel.matchExpressions !== undefined) c.fail('/spec/selector/matchExpressions', 'not supported: use matchLabels');
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) c.fail('/spec/selector/matchLabels', `selector ${k}=${v} does not match the template labels`);
  const pod = c.obj(tpl.spec, '/spec/template/spec');
  c.known(pod, '/spec/template/spec', ['containers', 'restartPolicy', 'terminationGracePeriodSeconds']);
  const cts = Array.isArray(pod.containers) ? pod.containers : c.fail('/spec/template/spec/containers', 'must be a list with one container');
  if (cts.length !== 1) c.fail('/spec/template/spec/containers', `yun runs one container per replica (got ${cts.length})`);
  container(c.obj(cts[0], '/spec/template/spec/containers/0'), c, '/spec/template/spec/containers/0', spec);
  const st = c.obj(s.strategy, '/spec/strategy');
  if (st.type === 'Recreate') { spec.strategy = { maxSurge: 0, maxUnavailable: '100%' }; }
  const ru = c.obj(st.rollingUpdate, '/spec/strategy/rollingUpdate');
  if (ru.maxSurge !== undefined || ru.maxUnavailable !== undefined) spec.strategy = { ...(ru.maxSurge !== undefined ? { maxSurge: ru.maxSurge as number | string } : {}), ...(ru.maxUnavailable !== undefined ? { maxUnavailable: ru.maxUnavailable as number | string } : {}) };
  if (s.revisionHistoryLimit !== undefined) spec.revisionHistoryLimit = Math.max(1, c.int(s.revisionHistoryLimit, '/spec/revisionHistoryLimit'));
  for (const k of ['minReadySeconds', 'progressDeadlineSeconds']) if (s[k] !== undefined) c.warn(`/spec/${k}`, 'not supported by yun; ignored');
  const ann = c.strMap(meta.annotations, '/metadata/annotations');
  if (ann['kubernetes.io/change-cause']) spec.changeCause = ann['kubernetes.io/change-cause'];
  const dom = ann['yun.dev/domains'];
  if (dom) spec.domains = dom.split(',').map((x) => x.trim()).filter(Boolean);
  return { document: c.doc, source: 'Deployment', yunKind: 'app', name, labels, spec, selector };
}

function service(d: Obj, c: Ctx, name: string): Mapped {
  const s = c.obj(d.spec, '/spec');
  c.known(s, '/spec', ['type', 'selector', 'ports', 'clusterIP', 'sessionAffinity']);
  const type = (s.type ?? 'ClusterIP') as ServiceSpec['type'];
  if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(type)) c.fail('/spec/type', `'${String(s.type)}' is not supported (ClusterIP, NodePort, LoadBalancer)`);
  if (type !== 'ClusterIP') c.warn('/spec/type', `${type}: served by the apps router by host name, no node port is opened`);
  const ports = (Array.isArray(s.ports) ? s.ports : []).map((p, i) => {
    const po = c.obj(p, `/spec/ports/${i}`);
    c.known(po, `/spec/ports/${i}`, ['port', 'targetPort', 'name', 'protocol', 'nodePort']);
    if (po.protocol !== undefined && po.protocol !== 'TCP') c.fail(`/spec/ports/${i}/protocol`, 'only TCP (HTTP) is routed');
    const tp = po.targetPort;
    return { port: c.int(po.port, `/spec/ports/${i}/port`), ...(typeof tp === 'number' ? { targetPort: tp } : {}), ...(typeof po.name === 'string' ? { name: po.name } : {}) };
  });
  return { document: c.doc, source: 'Service', yunKind: 'app-service', name, spec: { type, selector: c.strMap(s.selector, '/spec/selector'), ports } };
}

function hpa(d: Obj, c: Ctx, name: string): Mapped {
  const s = c.obj(d.spec, '/spec');
  c.known(s, '/spec', ['scaleTargetRef', 'minReplicas', 'maxReplicas', 'metrics', 'behavior']);
  const ref = c.obj(s.scaleTargetRef, '/spec/scaleTargetRef');
  if (ref.kind !== 'Deployment') c.fail('/spec/scaleTargetRef/kind', 'only Deployments can be scaled');
  const metrics: AutoscalerSpec['metrics'] = [];
  for (const [i, m] of (Array.isArray(s.metrics) ? s.metrics : []).entries()) {
    const mp = `/spec/metrics/${i}`;
    const mo = c.obj(m, mp);
    if (mo.type === 'Resource' && isObj(mo.resource)) {
      const rn = mo.resource.name;
      const tg = c.obj(mo.resource.target, `${mp}/resource/target`);
      if ((rn === 'cpu' || rn === 'memory') && typeof tg.averageUtilization === 'number') metrics.push({ type: rn, target: tg.averageUtilization });
      else c.warn(mp, 'only cpu/memory averageUtilization is supported; ignored');
    } else if (mo.type === 'Pods' && isObj(mo.pods)) {
      const tg = c.obj(mo.pods.target, `${mp}/pods/target`);
      const v = Number(tg.averageValue);
      if (Number.isFinite(v) && v > 0) metrics.push({ type: 'requests-per-second', target: v });
      else c.warn(mp, 'Pods metrics are read as requests per second per replica; averageValue missing; ignored');
    } else c.warn(mp, `metric type '${String(mo.type)}' is not supported; ignored`);
  }
  if (s.behavior !== undefined) c.warn('/spec/behavior', 'not supported by yun; ignored');
  if (!metrics.length) metrics.push({ type: 'cpu', target: 80 });
  return {
    document: c.doc, source: 'HorizontalPodAutoscaler', yunKind: 'app-autoscaler', name,
    spec: { target: { kind: 'app', name: c.str(ref.name, '/spec/scaleTargetRef/name') }, minReplicas: s.minReplicas === undefined ? 1 : c.int(s.minReplicas, '/spec/minReplicas'), maxReplicas: c.int(s.maxReplicas, '/spec/maxReplicas'), metrics },
  };
}

const SUPPORTED = 'v1 Namespace, apps/v1 Deployment, v1 Service, autoscaling/v2 HorizontalPodAutoscaler, v1 ConfigMap, v1 Secret';
const API: Record<string, string[]> = { Namespace: ['v1'], Deployment: ['apps/v1'], Service: ['v1'], HorizontalPodAutoscaler: ['autoscaling/v2'], ConfigMap: ['v1'], Secret: ['v1'] };

/** Parses a (multi-document) manifest; throws on the first bad document. */
export function parseManifest(text: string, file = 'manifest', project?: string): { objects: Mapped[]; warnings: Warning[] } {
  const objects: Mapped[] = [];
  const warnings: Warning[] = [];
  const docs = parseAllDocuments(text);
  let idx = 0;
  for (const doc of docs) {
    idx++;
    const c = new Ctx(file, idx);
    if (doc.errors.length) c.fail('/', `YAML: ${doc.errors[0]!.message}`);
    const raw = doc.toJS() as unknown;
    if (raw === null || raw === undefined) continue;
    if (!isObj(raw)) c.fail('/', 'a document must be a mapping');
    const d = raw as Obj;
    const kind = c.str(d.kind, '/kind');
    if (!API[kind]) c.fail('/kind', `unsupported kind '${kind}' (supported: ${SUPPORTED})`);
    if (!API[kind]!.includes(String(d.apiVersion))) c.fail('/apiVersion', `${kind} must be ${API[kind]!.join(' or ')} (got '${String(d.apiVersion)}')`);
    const meta = c.obj(d.metadata, '/metadata');
    const name = c.str(meta.name, '/metadata/name');
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) c.fail('/metadata/name', `'${name}' is not a valid yun name (lowercase letters, digits, '-')`);
    if (meta.namespace !== undefined && project !== undefined && meta.namespace !== project) c.fail('/metadata/namespace', `namespace '${String(meta.namespace)}' differs from the project in use ('${project}'); apply with -p ${String(meta.namespace)}`);
    c.known(meta, '/metadata', ['name', 'namespace', 'labels', 'annotations'], 'metadata field ignored');
    let m: Mapped;
    if (kind === 'Namespace') m = { document: idx, source: kind, yunKind: 'project', name };
    else if (kind === 'Deployment') m = deployment(d, c, name, meta);
    else if (kind === 'Service') m = service(d, c, name);
    else if (kind === 'HorizontalPodAutoscaler') m = hpa(d, c, name);
    else {
      c.known(d, '', ['apiVersion', 'kind', 'metadata', 'data', 'stringData', 'type', 'immutable']);
      const data = c.strMap(d.data, '/data');
      if (kind === 'Secret') {
        for (const [k, v] of Object.entries(data)) {
          if (!/^[A-Za-z0-9+/=\s]*$/.test(v)) c.fail(`/data/${k}`, 'Secret data must be base64');
          data[k] = Buffer.from(v, 'base64').toString('utf8');
        }
        Object.assign(data, c.strMap(d.stringData, '/stringData'));
      }
      m = { document: idx, source: kind, yunKind: kind === 'Secret' ? 'app-secret' : 'app-config', name, spec: { data } };
    }
    objects.push(m);
    warnings.push(...c.warnings);
  }
  // Services and Deployments in one file: a Deployment without a port takes the Service's targetPort.
  for (const a of objects) {
    if (a.yunKind !== 'app' || a.spec.port) continue;
    const svc = objects.find((s) => s.yunKind === 'app-service' && Object.entries(s.spec.selector).every(([k, v]) => a.labels[k] === v) && Object.keys(s.spec.selector).length);
    const p = svc && svc.yunKind === 'app-service' ? (svc.spec.ports[0]?.targetPort ?? svc.spec.ports[0]?.port) : undefined;
    if (!p) new Ctx(file, a.document).fail('/spec/template/spec/containers/0/ports', 'a port is needed: give containerPort or a Service targetPort');
    a.spec.port = p!;
  }
  return { objects, warnings };
}
