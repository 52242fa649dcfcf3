#!/usr/bin/env node
// Records which sources packages/server/dist was built from (bin/latchkey.js compares before using it).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sourceManifest } from '../packages/server/bin/source-manifest.js';

const src = fileURLToPath(new URL('../packages/server/src/', import.meta.url));
writeFileSync(new URL('../packages/server/dist/.built', import.meta.url), `${sourceManifest(src)}\n`);
