/**
 * Writes schema/mcml.schema.json from the zod spec schema, so editors complete mcml.yaml.
 * With --check, fails (exit 1) when the committed file differs: CI catches drift.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { specSchema } from '../src/core/spec/schema.js';

const file = new URL('../schema/mcml.schema.json', import.meta.url);
const schema = {
  ...z.toJSONSchema(specSchema, { io: 'input', target: 'draft-2020-12' }),
  // Top-level x- keys are extension fields for YAML anchors; parseSpec ignores them.
  patternProperties: { '^x-': {} },
  $id: 'https://github.com/mcml-dev/mcml/schema/mcml.schema.json',
  title: 'mcml.yaml',
};
const text = JSON.stringify(schema, null, 2) + '\n';

if (process.argv.includes('--check')) {
  const current = await readFile(file, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(
      'schema/mcml.schema.json is out of date with src/core/spec/schema.ts: run "npm run schema" and commit it\n',
    );
    process.exit(1);
  }
  process.stdout.write('schema/mcml.schema.json is up to date\n');
} else {
  await writeFile(file, text);
  process.stdout.write('wrote schema/mcml.schema.json\n');
}
