/** Reading a JSON input file a command was given or finds: a clear input error when it is not JSON. */
import { readFile } from 'node:fs/promises';
import { McmlError } from '../core/errors.js';

/** The file's JSON, or undefined when the file does not exist. */
export async function readOptionalJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new McmlError('INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new McmlError('INVALID_ARGUMENT', `${file} is not JSON: ${(error as Error).message}`);
  }
}

/** The file's JSON; a missing file is NOT_FOUND, naming `what` it is. */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  const value = await readOptionalJson(file);
  if (value === undefined) throw new McmlError('NOT_FOUND', `${what} ${file} does not exist`);
  return value;
}
