import { open } from 'node:fs/promises';
import { McmlError } from '../../core/errors.js';
import { STARTER_SPEC } from '../../core/spec/starter.js';

export async function runInit(file: string, options: { force?: boolean }): Promise<void> {
  try {
    // "wx" creates the file only when it does not exist: no check-then-write race.
    const handle = await open(file, options.force ? 'w' : 'wx');
    try {
      await handle.writeFile(STARTER_SPEC);
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new McmlError('CONFLICT', `${file} already exists`, {
        hint: 'pass --force to overwrite it, or give another file name',
      });
    }
    if (code === 'ENOENT')
      throw new McmlError('NOT_FOUND', `cannot write ${file}: no such directory`);
    if (code === 'EACCES')
      throw new McmlError('PERMISSION_DENIED', `cannot write ${file}: permission denied`);
    if (code === 'EISDIR') throw new McmlError('USAGE', `${file} is a directory`);
    throw error;
  }
  process.stdout.write(
    `wrote ${file}\nnext: edit it, then run "mcml validate ${file}" and "mcml plan ${file}"\n`,
  );
}
