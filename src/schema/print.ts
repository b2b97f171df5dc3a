/* npm run schema:print → schema/schema.graphql */
import { writeFileSync } from 'node:fs';
import { printedSchema } from './index.js';

const out = new URL('../../schema/schema.graphql', import.meta.url);
writeFileSync(out, printedSchema());
console.log(`wrote ${out.pathname}`);
