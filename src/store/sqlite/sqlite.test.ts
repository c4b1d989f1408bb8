import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { runStoreContract } from '../contract.test-suite.ts';
import { openStore } from '../index.ts';

runStoreContract('sqlite :memory:', () => openStore('sqlite::memory:'));

const dir = mkdtempSync(join(tmpdir(), 'yun-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// One file shared by every test: this also runs two connections (two stores) on one file.
runStoreContract('sqlite file (WAL)', () => openStore(`sqlite:${join(dir, 'state.db')}`));
