// Regenerates docs/ERRORS.md from ERROR_CODES in @tmesh/core: `npx tsx scripts/gen-errors-doc.ts`.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../packages/core/src/errors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rows = Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
const text = `# tmesh error codes

Every failure tmesh reports is a \`TmeshError\` (\`name === 'TmeshError'\`) with one of these stable
\`code\`s, a message that says what and where (it starts with the code), and \`cause\` when another error
led to it. Test for them with \`isTmeshError(err, 'E_TIMEOUT')\`, which does not rely on \`instanceof\`.
The Rust crates map their errors to the same codes. Codes never change meaning once published.

This file is generated from \`packages/core/src/errors.ts\` by \`npx tsx scripts/gen-errors-doc.ts\`;
a test fails when it is out of date.

| code | meaning |
|---|---|
${rows.join('\n')}
`;
writeFileSync(join(root, 'docs/ERRORS.md'), text);
console.log(`docs/ERRORS.md: ${rows.length} codes`);
