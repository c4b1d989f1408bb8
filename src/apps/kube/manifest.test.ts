import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifest } from './manifest.ts';

const dep = (extra = '') => `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      nodeSelector: {disk: ssd}
      containers:
        - name: c
          image: busybox
          command: [httpd, -f, -p, "9000"]
${extra}`;

describe('kubernetes manifest mapping', () => {
  it('maps a Deployment, warns about unsupported fields with their path', () => {
    const { objects, warnings } = parseManifest(`${dep('          ports: [{containerPort: 9000}]\n          livenessProbe: {tcpSocket: {port: 9000}, periodSeconds: 2}')}`, 'd.yaml');
    const a = objects[0]!;
    assert.equal(a.yunKind, 'app');
    if (a.yunKind !== 'app') return;
    assert.deepEqual(a.spec, { replicas: 1, image: 'busybox', command: ['httpd', '-f', '-p', '9000'], port: 9000, healthCheck: { type: 'tcp', intervalSeconds: 2 } });
    assert.deepEqual(warnings.map((w) => w.path), ['/spec/template/spec/nodeSelector']);
  });

  it('takes the port from a Service targetPort in the same file', () => {
    const { objects } = parseManifest(`${dep()}---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  selector: {app: api}\n  ports: [{port: 80, targetPort: 9000}]\n`);
    assert.equal(objects[0]!.yunKind === 'app' && objects[0]!.spec.port, 9000);
  });

  it('errors name file, document and path', () => {
    assert.throws(() => parseManifest(`${dep()}---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {selector: {app: api}, ports: [{port: 80, targetPort: 9000}]}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n`, 'f.yaml'),
      /f\.yaml: document 3, \/kind: unsupported kind 'Job'/);
    assert.throws(() => parseManifest(dep(), 'f.yaml'), /f\.yaml: document 1, \/spec\/template\/spec\/containers\/0\/ports: a port is needed/);
    assert.throws(() => parseManifest('apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: x}\n', 'g.yaml'), /document 1, \/apiVersion: Deployment must be apps\/v1/);
    assert.throws(() => parseManifest(dep('          ports: [{containerPort: 9000}]\n          resources: {limits: {memory: lots}}'), 'h.yaml'), /\/resources\/limits\/memory: 'lots' is not a memory quantity/);
    assert.throws(() => parseManifest('a: [1\n', 'bad.yaml'), /bad\.yaml: document 1, \/: YAML/);
  });

  it('decodes Secret data, keeps stringData; HPA metrics', () => {
    const { objects } = parseManifest(`apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YWJj}\nstringData: {b: plain}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  scaleTargetRef: {kind: Deployment, name: api}\n  maxReplicas: 4\n  metrics:\n    - type: Pods\n      pods: {metric: {name: http_requests_per_second}, target: {type: AverageValue, averageValue: "50"}}\n`);
    assert.deepEqual(objects[0]!.yunKind === 'app-secret' && objects[0]!.spec, { data: { a: 'abc', b: 'plain' } });
    assert.deepEqual(objects[1]!.yunKind === 'app-autoscaler' && objects[1]!.spec, { target: { kind: 'app', name: 'api' }, minReplicas: 1, maxReplicas: 4, metrics: [{ type: 'requests-per-second', target: 50 }] });
  });
});
