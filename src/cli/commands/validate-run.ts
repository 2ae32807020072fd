import { DEFAULT_SPEC_FILE, givenSpecFile, loadSpecFile } from '../spec-file.js';
import { paint, useColor } from '../output.js';
import { loadCatalog } from '../catalog-files.js';
import { catalogProblems } from '../../core/plan/check.js';
import { specIssuesError } from '../../core/spec/parse.js';

export interface ValidateCommandOptions {
  /** The spec file as `-f` (the same as the argument). */
  file?: string;
  json?: boolean;
  catalog?: string;
}

export async function runValidate(
  fileArg: string | undefined,
  options: ValidateCommandOptions,
): Promise<void> {
  const file = givenSpecFile(fileArg, options.file) ?? DEFAULT_SPEC_FILE;
  const doc = await loadSpecFile(file);
  const catalog = await loadCatalog(options.catalog);
  const problems = catalogProblems(doc.spec, catalog);
  if (problems.length > 0) throw specIssuesError(doc, problems);
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
