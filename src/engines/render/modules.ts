/** Reads the hand-written Terraform modules that ship with mcml (`<package>/terraform/modules`). */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McmlError } from '../../core/errors.js';

/** `<package>/terraform/modules/`, found from dist/engines/render/ or src/engines/render/. */
export function modulesDir(): string {
  return fileURLToPath(new URL('../../../terraform/modules/', import.meta.url));
}

/** The files of the named modules as `terraform/modules/<name>/<file>` → content. */
export async function readModules(
  names: readonly string[],
  dir: string = modulesDir(),
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of names) {
    let entries: string[];
    try {
      entries = (await readdir(join(dir, name))).filter((f) => f.endsWith('.tf')).sort();
    } catch (error) {
      throw new McmlError('INTERNAL', `Terraform module ${name} is missing from ${dir}`, {
        hint: 'reinstall mcml: the modules ship in its terraform/modules directory',
        cause: error,
      });
    }
    for (const file of entries) {
      files[`terraform/modules/${name}/${file}`] = await readFile(join(dir, name, file), 'utf8');
    }
  }
  return files;
}
