/**
 * Writes rendered files to an output directory safely: everything is written to a temporary
 * sibling directory first and swapped in with renames, so the output is never partial; a
 * directory holding files mcml did not write (or files changed since it wrote them) is refused
 * unless forced; files tools create beside mcml's (Terraform state, lock file, tfvars) are kept.
 */
import { createHash } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { McmlError, type Issue } from '../../core/errors.js';

/** The manifest of what mcml wrote, at the root of the output directory. */
export const MANIFEST = '.mcml-render.json';

/** Paths (relative, "/"-separated) that tools create beside mcml's files: kept, never refused. */
const TOOL_FILES = [
  // Each Terraform root (terraform/<root>/; terraform/ itself before roots were split).
  /^terraform\/(?:[a-z-]+\/)?\.terraform(\/|$)/,
  /^terraform\/(?:[a-z-]+\/)?\.terraform\.lock\.hcl$/,
  /^terraform\/(?:[a-z-]+\/)?\.terraform\.tfstate\.lock\.info$/,
  /^terraform\/(?:[a-z-]+\/)?terraform\.tfstate(\.backup)?$/,
  /^terraform\/(?:[a-z-]+\/)?terraform\.tfvars(\.json)?$/,
  /^terraform\/(?:[a-z-]+\/)?[^/]+\.auto\.tfvars(\.json)?$/,
  // Saved plans (mcml infra plan --save) and the user's own override files.
  /^terraform\/(?:[a-z-]+\/)?(?:[^/]+\.)?tfplan$/,
  /^terraform\/(?:[a-z-]+\/)?(?:[^/]+_)?override\.tf(\.json)?$/,
  /^monitoring\/\.proxies\.pid$/,
  /^monitoring\/proxy-[^/]+\.log$/,
  /^dns\/\.change-batch\.json$/,
  /^identities\.json$/,
];

export function isToolFile(path: string): boolean {
  return TOOL_FILES.some((re) => re.test(path));
}

interface Manifest {
  generator: 'mcml';
  version: string;
  files: Record<string, string>;
}

export interface WriteOptions {
  outDir: string;
  /** Relative path → content. */
  files: Readonly<Record<string, string>>;
  /** Overwrite even if the directory holds files mcml did not write (they are kept). */
  force?: boolean;
  version: string;
  /** The working directory, which the output must not contain. */
  cwd: string;
}

export interface WriteResult {
  outDir: string;
  written: string[];
  /** Files kept from the previous output: tool files and, with force, foreign files. */
  kept: string[];
  /** mcml files of the previous render that this render no longer produces. */
  removed: string[];
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

function checkPath(path: string): void {
  if (
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
  ) {
    throw new McmlError('INTERNAL', `render produced an unsafe path: ${JSON.stringify(path)}`);
  }
}

async function listFiles(root: string, dir = root, out: string[] = []): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = join(dir, e.name);
    const rel = relative(root, full).split(sep).join('/');
    if (e.isDirectory() && !isToolFile(rel)) await listFiles(root, full, out);
    else out.push(rel);
  }
  return out;
}

async function readManifest(outDir: string): Promise<Manifest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(outDir, MANIFEST), 'utf8')) as Partial<Manifest>;
    if (parsed.generator === 'mcml' && parsed.files && typeof parsed.files === 'object') {
      return parsed as Manifest;
    }
  } catch {
    // No manifest or not mcml's: every file counts as foreign.
  }
  return undefined;
}

function fsError(error: unknown, action: string, path: string): McmlError {
  const code = (error as NodeJS.ErrnoException).code;
  const message = `cannot ${action} ${path}: ${code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'permission denied' : code === 'ENOTDIR' ? 'a parent is not a directory' : (error as Error).message}`;
  return new McmlError(
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? 'PERMISSION_DENIED'
      : 'INVALID_ARGUMENT',
    message,
    { hint: 'choose another output directory with -o DIR', cause: error },
  );
}

/** Writes `files` into `outDir` atomically. Throws McmlError; on error nothing changed. */
export async function writeOutput(options: WriteOptions): Promise<WriteResult> {
  const outDir = resolve(options.outDir);
  checkTarget(options, outDir);
  const exists = await isExistingDir(options, outDir);
  const { kept, removed } = exists ? await survey(options, outDir) : { kept: [], removed: [] };
  await stageAndSwap(options, outDir, exists, kept);
  return {
    outDir,
    written: Object.keys(options.files).sort(),
    kept: kept.filter((p) => options.files[p] === undefined).sort(),
    removed: removed.sort(),
  };
}

/** Every path relative and clean; the output directory not holding the working directory. */
function checkTarget(options: WriteOptions, outDir: string): void {
  for (const path of Object.keys(options.files)) checkPath(path);
  const cwd = resolve(options.cwd);
  if (cwd === outDir || cwd.startsWith(outDir + sep)) {
    throw new McmlError(
      'USAGE',
      `output directory ${options.outDir} contains the working directory`,
      {
        hint: 'render into a subdirectory, e.g. -o out',
      },
    );
  }
}

/** Whether the output directory exists (a file there is a usage error). */
async function isExistingDir(options: WriteOptions, outDir: string): Promise<boolean> {
  try {
    const info = await lstat(outDir);
    if (!info.isDirectory()) {
      throw new McmlError('USAGE', `output ${options.outDir} exists and is not a directory`, {
        hint: 'choose another output directory with -o DIR',
      });
    }
    return true;
  } catch (error) {
    if (error instanceof McmlError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw fsError(error, 'read', options.outDir);
    return false;
  }
}

/**
 * What is there now, against the manifest: tool files and (with --force) foreign or changed
 * files are kept, mcml's own files the new render drops are removed. Without --force any
 * foreign or changed file refuses the write (CONFLICT, listing up to 10).
 */
async function survey(
  options: WriteOptions,
  outDir: string,
): Promise<{ kept: string[]; removed: string[] }> {
  const kept: string[] = [];
  const removed: string[] = [];
  const manifest = await readManifest(outDir);
  const present = (await listFiles(outDir)).sort();
  const issues: Issue[] = [];
  for (const path of present) {
    if (path === MANIFEST) continue;
    if (isToolFile(path)) {
      kept.push(path);
      continue;
    }
    const recorded = manifest?.files[path];
    if (recorded === undefined) {
      issues.push({ path, message: 'was not written by mcml' });
      if (options.force) kept.push(path);
      continue;
    }
    const actual = sha256(await readFile(join(outDir, path)));
    if (actual !== recorded) {
      issues.push({ path, message: 'was changed since mcml wrote it' });
      if (options.force && options.files[path] === undefined) kept.push(path);
    } else if (options.files[path] === undefined) removed.push(path);
  }
  if (issues.length > 0 && !options.force) {
    const shown = issues.slice(0, 10);
    if (issues.length > shown.length) {
      shown.push({ path: '…', message: `and ${issues.length - shown.length} more` });
    }
    throw new McmlError(
      'CONFLICT',
      `refusing to write into ${options.outDir}: it holds files mcml did not write`,
      {
        issues: shown,
        hint: "move them away, choose another directory with -o, or pass --force to overwrite mcml's files and keep the others",
      },
    );
  }
  return { kept, removed };
}

/**
 * Writes everything into a temporary sibling with its manifest, carries the kept files over,
 * then swaps it in. On any error the moved files go back and the output is as it was.
 */
async function stageAndSwap(
  options: WriteOptions,
  outDir: string,
  exists: boolean,
  kept: readonly string[],
): Promise<void> {
  const parent = dirname(outDir);
  try {
    await mkdir(parent, { recursive: true });
  } catch (error) {
    throw fsError(error, 'create', parent);
  }
  let tmp: string;
  try {
    tmp = await mkdtemp(join(parent, `.${basename(outDir)}.mcml-tmp-`));
  } catch (error) {
    throw fsError(error, 'write to', parent);
  }
  const moved: string[] = [];
  try {
    await stage(options, tmp);
    // Carry over what is kept (tool files, and foreign files when forced).
    for (const path of kept) {
      if (options.files[path] !== undefined) continue;
      const to = join(tmp, ...path.split('/'));
      await mkdir(dirname(to), { recursive: true });
      await rename(join(outDir, ...path.split('/')), to);
      moved.push(path);
    }
    await swap(tmp, outDir, exists);
  } catch (error) {
    // Put back what was moved out, drop the temporary directory: the output is as it was.
    for (const path of moved) {
      await rename(join(tmp, ...path.split('/')), join(outDir, ...path.split('/'))).catch(() => {});
    }
    await rm(tmp, { recursive: true, force: true });
    if (error instanceof McmlError) throw error;
    throw fsError(error, 'write', options.outDir);
  }
}

/** The new files (scripts executable) and their manifest, in `tmp`. */
async function stage(options: WriteOptions, tmp: string): Promise<void> {
  const paths = Object.keys(options.files).sort();
  for (const path of paths) {
    const target = join(tmp, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, options.files[path]!);
    if (path.endsWith('.sh')) await chmod(target, 0o755);
  }
  const manifest: Manifest = {
    generator: 'mcml',
    version: options.version,
    files: Object.fromEntries(paths.map((p) => [p, sha256(options.files[p]!)])),
  };
  await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}

/** `tmp` becomes `outDir`; an existing one is set aside first and restored if that fails. */
async function swap(tmp: string, outDir: string, exists: boolean): Promise<void> {
  if (!exists) {
    await rename(tmp, outDir);
    return;
  }
  const parent = dirname(outDir);
  const old = await mkdtemp(join(parent, `.${basename(outDir)}.mcml-old-`));
  await rm(old, { recursive: true });
  await rename(outDir, old);
  try {
    await rename(tmp, outDir);
  } catch (error) {
    await rename(old, outDir);
    throw error;
  }
  await rm(old, { recursive: true, force: true });
}
