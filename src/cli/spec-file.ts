/** Reads a spec file from disk with errors a person can act on. */
import { McmlError } from '../core/errors.js';
import { MAX_SPEC_BYTES, parseSpec, type SpecDocument } from '../core/spec/index.js';
import { readInputFile, shownPath } from './input-file.js';

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
    throw new McmlError(
      'USAGE',
      `two spec files given: ${shownPath(fileArg)} and -f ${shownPath(fileOption)}`,
      {
        hint: 'pass the spec once, as an argument or with -f',
      },
    );
  }
  return fileArg ?? fileOption;
}

/** Reads and validates a spec file. Throws SPEC_INVALID / NOT_FOUND / INVALID_ARGUMENT. */
export async function loadSpecFile(file: string = DEFAULT_SPEC_FILE): Promise<SpecDocument> {
  const text = await readInputFile(file, {
    what: 'spec file',
    maxBytes: MAX_SPEC_BYTES,
    missingHint: 'run "mcml init" to write a starter spec, or pass -f PATH',
  });
  return parseSpec(text, shownPath(file));
}
