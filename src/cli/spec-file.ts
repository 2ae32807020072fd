/** Reads a spec file from disk with errors a person can act on. */
import { readFile, stat } from 'node:fs/promises';
import { McmlError } from '../core/errors.js';
import { parseSpec, type SpecDocument } from '../core/spec/index.js';

/** Default spec file name looked up in the working directory. */
export const DEFAULT_SPEC_FILE = 'mcml.yaml';

/**
 * The spec file a command was given, as a positional argument or with -f (not both), or
 * undefined when neither was given.
 */
export function givenSpecFile(
  fileArg: string | undefined,
  fileOption: string | undefined,
): string | undefined {
  if (fileArg !== undefined && fileOption !== undefined && fileArg !== fileOption) {
    throw new McmlError('USAGE', `two spec files given: ${fileArg} and -f ${fileOption}`, {
      hint: 'pass the spec once, as an argument or with -f',
    });
  }
  return fileArg ?? fileOption;
}

/** Reads and validates a spec file. Throws SPEC_INVALID / NOT_FOUND McmlErrors. */
export async function loadSpecFile(file: string = DEFAULT_SPEC_FILE): Promise<SpecDocument> {
  let text: string;
  try {
    const info = await stat(file);
    if (info.isDirectory()) {
      throw new McmlError('USAGE', `${file} is a directory, not a spec file`, {
        hint: `pass the spec inside it, e.g. ${file.replace(/\/$/, '')}/mcml.yaml`,
      });
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof McmlError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new McmlError('NOT_FOUND', `spec file ${file} does not exist`, {
        hint: 'run "mcml init" to write a starter spec, or pass -f PATH',
      });
    }
    if (code === 'EACCES') {
      throw new McmlError('PERMISSION_DENIED', `cannot read ${file}: permission denied`);
    }
    throw new McmlError('UNAVAILABLE', `cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseSpec(text, file);
}
