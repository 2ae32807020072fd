/**
 * The external data files an ONNX model names: models over protobuf's 2 GiB limit (and most
 * exported with their weights apart) keep tensors in files beside the .onnx file, each tensor
 * pointing at `location`, `offset` and `length` in its `external_data` entries (onnx.proto).
 *
 * The model is read with positional reads through a small window, skipping every field that
 * cannot hold a tensor (inline weights included), so a model of any size is scanned in a few
 * tens of KiB. Tensors are looked for wherever onnx.proto puts them: graph initializers (dense
 * and sparse), node attributes, subgraphs (If/Loop bodies) and functions.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { McmlError } from '../../core/errors.js';

/** One external data file and the bytes the model needs of it. */
export interface ExternalDataFile {
  /** The path relative to the model's folder, with "/" separators. */
  location: string;
  /** The end of the last tensor stored in it (offset + length), when the model says. */
  end: number | undefined;
}

type Kind = 'model' | 'function' | 'graph' | 'node' | 'attribute' | 'sparse' | 'tensor' | 'entry';

/** For each message, the fields (all length-delimited) that hold messages worth reading. */
const FIELDS: Record<Kind, Record<number, Kind>> = {
  model: { 7: 'graph', 25: 'function' },
  function: { 7: 'node' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
  tensor: { 13: 'entry' },
  entry: {},
};
/** TensorProto.data_location (a varint): 1 is EXTERNAL. */
const DATA_LOCATION = 14;
/** Subgraphs nest; a file nesting deeper than this is refused, not followed. */
const MAX_DEPTH = 64;
const WINDOW = 64 * 1024;

/** Positional reads of a file through one window. */
class Reader {
  private buffer = Buffer.alloc(0);
  private start = 0;

  constructor(
    private readonly file: FileHandle,
    readonly size: number,
  ) {}

  /** The bytes [at, at + length), read into the window when outside it. */
  async bytes(at: number, length: number): Promise<Buffer> {
    if (at < this.start || at + length > this.start + this.buffer.length) {
      const want = Math.min(Math.max(length, WINDOW), this.size - at);
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await this.file.read(buffer, 0, want, at);
      this.buffer = buffer.subarray(0, bytesRead);
      this.start = at;
    }
    const from = at - this.start;
    return this.buffer.subarray(from, from + length);
  }

  /** The varint at `at` and where it ends. */
  async varint(at: number, limit: number): Promise<{ value: number; next: number }> {
    const bytes = await this.bytes(at, Math.min(10, limit - at));
    let value = 0;
    let scale = 1;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return { value, next: at + i + 1 };
    }
    throw new Error(`a varint at byte ${at} runs past its message`);
  }
}

/** The external data files `path` names, each once, in the order first named. */
export async function externalDataFiles(path: string): Promise<ExternalDataFile[]> {
  const file = await open(path, 'r');
  try {
    const reader = new Reader(file, (await file.stat()).size);
    const found = new Map<string, ExternalDataFile>();
    try {
      await walk(reader, 0, reader.size, 'model', 0, found);
    } catch (error) {
      if (error instanceof McmlError) throw error;
      throw new McmlError(
        'INVALID_ARGUMENT',
        `${path} is not a valid ONNX model (${(error as Error).message})`,
        { cause: error, details: { notOnnx: true } },
      );
    }
    return [...found.values()];
  } finally {
    await file.close();
  }
}

/** Reads the message [start, end) of `kind`, recording the external files its tensors name. */
async function walk(
  reader: Reader,
  start: number,
  end: number,
  kind: Kind,
  depth: number,
  found: Map<string, ExternalDataFile>,
): Promise<Record<string, string>[] | undefined> {
  if (depth > MAX_DEPTH) throw new Error(`messages nest deeper than ${MAX_DEPTH}`);
  const entries: Record<string, string>[] = [];
  const strings: Record<number, string> = {};
  let external = false;
  for (let at = start; at < end;) {
    const tag = await reader.varint(at, end);
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    at = tag.next;
    if (wire === 0) {
      const v = await reader.varint(at, end);
      if (kind === 'tensor' && field === DATA_LOCATION) external = v.value === 1;
      at = v.next;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else if (wire === 2) {
      const length = await reader.varint(at, end);
      at = length.next;
      if (at + length.value > end) throw new Error(`a field at byte ${at} runs past its message`);
      const inner = FIELDS[kind][field];
      if (kind === 'entry' && (field === 1 || field === 2)) {
        strings[field] = (await reader.bytes(at, length.value)).toString('utf8');
      } else if (inner === 'entry') {
        const entry = await walk(reader, at, at + length.value, 'entry', depth + 1, found);
        if (entry) entries.push(...entry);
      } else if (inner) {
        await walk(reader, at, at + length.value, inner, depth + 1, found);
      }
      at += length.value;
    } else {
      throw new Error(`unknown wire type ${wire} at byte ${at}`);
    }
    if (at > end) throw new Error(`a field runs past its message at byte ${end}`);
  }
  if (kind === 'entry') return [{ [strings[1] ?? '']: strings[2] ?? '' }];
  if (kind === 'tensor') record(entries, external, found);
  return undefined;
}

/** Records one tensor's external file (location, offset, length entries). */
function record(
  entries: Record<string, string>[],
  external: boolean,
  found: Map<string, ExternalDataFile>,
): void {
  const data = Object.assign({}, ...entries) as Record<string, string>;
  const location = data.location;
  if (!external && location === undefined) return;
  if (location === undefined || location === '')
    throw new Error('a tensor stored externally names no location');
  checkLocation(location);
  const offset = Number(data.offset ?? 0);
  const length = data.length === undefined ? undefined : Number(data.length);
  const end = length === undefined ? undefined : offset + length;
  const known = found.get(location);
  if (!known) found.set(location, { location, end });
  else if (end !== undefined) known.end = Math.max(known.end ?? 0, end);
}

/** An external data location must stay inside the model's folder. */
function checkLocation(location: string): void {
  const parts = location.split(/[\\/]/);
  if (isAbsolute(location) || /^[A-Za-z]:/.test(location) || parts.some((p) => p === '..')) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `the model names an external data file outside its folder: ${JSON.stringify(location)}`,
      { hint: 'external data locations are paths relative to the .onnx file' },
    );
  }
}
