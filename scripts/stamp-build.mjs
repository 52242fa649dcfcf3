#!/usr/bin/env node
// Marks packages/server/dist as built from the current sources (bin/latchkey.js compares the times).
import { writeFileSync } from 'node:fs';

writeFileSync(new URL('../packages/server/dist/.built', import.meta.url), `${new Date().toISOString()}\n`);
