import { afterAll } from '@jest/globals';
import { stopSharedPostgres } from './postgres-server.js';

// The postgres jest project: the same suites, with every relay on a fresh database of a real
// PostgreSQL server that this test file starts (on first use) and stops.
process.env['METACHAT_TEST_STORE'] = 'postgres';
afterAll(stopSharedPostgres);
