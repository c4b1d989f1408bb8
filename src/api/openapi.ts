import type { RouteOptions } from 'fastify';
import type { CloudConfig } from '../core/config.ts';

interface RouteSchema { body?: object; querystring?: object; params?: object; response?: Record<string, object>; summary?: string; tags?: string[]; hide?: boolean }

/**
 * Builds the OpenAPI 3.1 document from the very schemas Fastify validates
 * with, so the document cannot drift from what the handlers accept.
 */
export class OpenApiCollector {
  private readonly routes: { method: string; url: string; schema: RouteSchema; auth: boolean }[] = [];

  add(r: RouteOptions): void {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const schema = (r.schema ?? {}) as RouteSchema;
    if (schema.hide || !r.url.startsWith('/v1')) return;
    for (const m of methods) if (m !== 'HEAD') this.routes.push({ method: m.toLowerCase(), url: r.url, schema, auth: (r.config as { auth?: boolean } | undefined)?.auth !== false });
  }

  document(config: CloudConfig): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const r of this.routes) {
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const params: object[] = [];
      for (const [where, s] of [['path', r.schema.params], ['query', r.schema.querystring]] as const) {
        const props = (s as { properties?: Record<string, object>; required?: string[] } | undefined)?.properties ?? {};
        const req = (s as { required?: string[] } | undefined)?.required ?? [];
        for (const [name, schema] of Object.entries(props)) params.push({ name, in: where, required: where === 'path' || req.includes(name), schema });
      }
      for (const m of r.url.matchAll(/:([A-Za-z0-9_]+)/g)) {
        if (!params.some((p) => (p as { name: string }).name === m[1])) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
      }
      const responses: Record<string, object> = {};
      for (const [code, s] of Object.entries(r.schema.response ?? { 200: {} })) responses[code] = { description: 'OK', content: { 'application/json': { schema: s } } };
      responses.default = { description: 'Problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
      (paths[path] ??= {})[r.method] = {
        ...(r.schema.summary ? { summary: r.schema.summary } : {}),
        tags: r.schema.tags ?? [path.split('/')[2] ?? 'core'],
        parameters: params,
        ...(r.schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } } : {}),
        responses,
        ...(r.auth ? {} : { security: [] }),
      };
    }
    return {
      openapi: '3.1.0',
      info: { title: 'yun API', version: '1', description: `yun cloud control plane (region ${config.region})` },
      servers: [{ url: '/' }],
      security: [{ bearer: [] }],
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        schemas: {
          Problem: {
            type: 'object', required: ['type', 'title', 'status', 'code'],
            properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' }, field: { type: 'string' }, instance: { type: 'string' }, requestId: { type: 'string' } },
          },
        },
      },
    };
  }
}
