import { loadSpecFile } from '../spec-file.js';
import { paint, useColor } from '../output.js';

export async function runValidate(file: string, options: { json?: boolean }): Promise<void> {
  const doc = await loadSpecFile(file);
  if (options.json) {
    process.stdout.write(JSON.stringify(doc.spec, null, 2) + '\n');
    return;
  }
  const { spec } = doc;
  const color = useColor();
  process.stdout.write(
    `${paint('green', '✓', color)} ${file} is valid: service "${spec.service.name}", ` +
      `${spec.targets.length} target${spec.targets.length === 1 ? '' : 's'}, ` +
      `strategy ${spec.strategy.type}\n`,
  );
}
