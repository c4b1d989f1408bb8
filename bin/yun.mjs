#!/usr/bin/env node
// Entry point for the `yun` command: runs the TypeScript CLI through tsx.
// A larger libuv pool keeps concurrent S3 fsyncs from queueing behind each other;
// it must be set before the first filesystem call.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
