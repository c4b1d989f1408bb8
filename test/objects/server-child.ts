/** Runs the objects service in its own process (for the kill -9 test): argv = dataDir. Prints `READY <port>`. */
import { startServer } from './helpers.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: server-child.ts <dir>');
const srv = await startServer({ dir });
process.stdout.write(`READY ${srv.port}\n`);
process.on('SIGTERM', () => { void srv.close().then(() => process.exit(0)); });
