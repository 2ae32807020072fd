/**
 * Reads a file the user named (a spec, a catalog CSV) with limits: only regular files (a FIFO
 * would block forever, /dev/zero would fill memory), at most `maxBytes`, and every failure an
 * input error that says what is wrong with the path.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { McmlError, type ErrorCode } from '../core/errors.js';
import { printable } from '../core/quote.js';

export interface InputFileOptions {
  /** What the file is, for messages: "spec file", "catalog file". */
  what: string;
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** Hint for a missing file. */
  missingHint?: string;
}

/** A path as messages show it: control characters escaped, at most 120 characters. */
export function shownPath(path: string): string {
  return printable(path, 120);
}

/**
 * The text of a regular file of at most `maxBytes` bytes.
 * @throws McmlError NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT (not a regular file, too
 *   large, a bad path) or UNAVAILABLE (the disk failed).
 */
export async function readInputFile(path: string, options: InputFileOptions): Promise<string> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw fileError(error, path, options);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) {
      throw new McmlError('USAGE', `${shownPath(path)} is a directory, not a ${options.what}`, {
        hint: `pass the file inside it, e.g. ${shownPath(path.replace(/\/+$/, ''))}/mcml.yaml`,
      });
    }
    if (!info.isFile()) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `${options.what} ${shownPath(path)} is ${kindOf(info)}, not a regular file`,
        { hint: 'mcml reads regular files only: save the content to a file first' },
      );
    }
    if (info.size > options.maxBytes) throw tooLarge(path, info.size, options);
    const bytes = await readAtMost(handle, options.maxBytes, info.size);
    if (bytes.length > options.maxBytes) throw tooLarge(path, bytes.length, options);
    return new TextDecoder('utf-8').decode(bytes);
  } catch (error) {
    if (error instanceof McmlError) throw error;
    throw fileError(error, path, options);
  } finally {
    await handle.close();
  }
}

/** Up to `max + 1` bytes: one past the limit tells a file that grew while it was read. */
async function readAtMost(handle: FileHandle, max: number, sizeHint: number): Promise<Buffer> {
  let buffer = Buffer.alloc(Math.min(sizeHint, max) + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > max) break;
      const bigger = Buffer.alloc(Math.min(buffer.length * 2, max + 1));
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  return buffer.subarray(0, length);
}

function kindOf(info: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function tooLarge(path: string, size: number, options: InputFileOptions): McmlError {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 2 : 1)} MiB`;
  return new McmlError(
    'INVALID_ARGUMENT',
    `${options.what} ${shownPath(path)} is larger than ${mib(options.maxBytes)} (${size > options.maxBytes * 2 ? 'at least ' : ''}${mib(size)})`,
    { hint: `a ${options.what} is far smaller than that: is this the right file?` },
  );
}

/** An error from the file system as an input error that names the problem with the path. */
export function fileError(error: unknown, path: string, options: InputFileOptions): McmlError {
  const code = (error as NodeJS.ErrnoException).code;
  const shown = shownPath(path);
  const reasons: Record<string, [ErrorCode, string, (string | undefined)?]> = {
    ENOENT: ['NOT_FOUND', `${options.what} ${shown} does not exist`, options.missingHint],
    ENOTDIR: [
      'NOT_FOUND',
      `${options.what} ${shown} does not exist: a part of the path is a file, not a directory`,
    ],
    EACCES: ['PERMISSION_DENIED', `cannot read ${options.what} ${shown}: permission denied`],
    EPERM: ['PERMISSION_DENIED', `cannot read ${options.what} ${shown}: permission denied`],
    EISDIR: ['USAGE', `${shown} is a directory, not a ${options.what}`],
    ENAMETOOLONG: [
      'INVALID_ARGUMENT',
      `the ${options.what} path is too long (${path.length} characters): ${shown}`,
      'a file name holds at most 255 bytes and a path at most 4096',
    ],
    ELOOP: [
      'INVALID_ARGUMENT',
      `${options.what} ${shown} cannot be opened: its symbolic links loop`,
    ],
    EINVAL: ['INVALID_ARGUMENT', `${options.what} path ${shown} is not valid`],
    ERR_INVALID_ARG_VALUE: ['INVALID_ARGUMENT', `${options.what} path ${shown} is not valid`],
  };
  const known = code === undefined ? undefined : reasons[code];
  if (known) {
    const [mcmlCode, message, hint] = known;
    return new McmlError(mcmlCode, message, hint === undefined ? {} : { hint });
  }
  return new McmlError(
    'UNAVAILABLE',
    `cannot read ${options.what} ${shown}: ${printable(String((error as Error).message), 200)}`,
    { cause: error },
  );
}
