import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { McmlError } from '../../core/errors.js';
import { MANIFEST, writeOutput } from './write-output.js';

describe('writeOutput', () => {
  let root: string;
  const out = () => join(root, 'out');
  const write = (files: Record<string, string>, force = false) =>
    writeOutput({ outDir: out(), files, force, version: 'test', cwd: root });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'mcml-write-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes files, a manifest with their hashes, and executable scripts', async () => {
    await write({ 'a/b.txt': 'hello', 'run.sh': '#!/bin/sh\n' });
    expect(readFileSync(join(out(), 'a/b.txt'), 'utf8')).toBe('hello');
    const manifest = JSON.parse(readFileSync(join(out(), MANIFEST), 'utf8'));
    expect(manifest.files['a/b.txt']).toBe(
      '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    );
    expect(readdirSync(root)).toEqual(['out']);
    const { statSync } = await import('node:fs');
    expect(statSync(join(out(), 'run.sh')).mode & 0o111).not.toBe(0);
  });

  it('replaces its own files, drops ones no longer rendered, keeps tool files', async () => {
    await write({ 'terraform/main.tf': 'v1', 'old.txt': 'x' });
    writeFileSync(join(out(), 'terraform/terraform.tfstate'), 'state');
    mkdirSync(join(out(), 'terraform/.terraform/providers'), { recursive: true });
    const r = await write({ 'terraform/main.tf': 'v2' });
    expect(r.removed).toEqual(['old.txt']);
    expect(r.kept).toEqual(['terraform/.terraform', 'terraform/terraform.tfstate']);
    expect(readFileSync(join(out(), 'terraform/main.tf'), 'utf8')).toBe('v2');
    expect(existsSync(join(out(), 'old.txt'))).toBe(false);
    expect(readFileSync(join(out(), 'terraform/terraform.tfstate'), 'utf8')).toBe('state');
    expect(existsSync(join(out(), 'terraform/.terraform/providers'))).toBe(true);
  });

  it('a failure half-way leaves the previous output exactly as it was', async () => {
    await write({ 'k8s/x.yaml': 'v1' });
    writeFileSync(join(out(), 'terraform.tfstate'), 'not a tool path: foreign');
    // "a" as a file and as a directory: the second write fails after the first succeeded.
    const error = await write({ 'k8s/x.yaml': 'v2', a: 'file', 'a/b': 'child' }, true).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(McmlError);
    expect(readFileSync(join(out(), 'k8s/x.yaml'), 'utf8')).toBe('v1');
    expect(readFileSync(join(out(), 'terraform.tfstate'), 'utf8')).toBe('not a tool path: foreign');
    expect(readdirSync(root)).toEqual(['out']);
  });

  it('refuses unsafe paths and an output that contains the working directory', async () => {
    await expect(write({ '../escape': 'x' })).rejects.toThrow(/unsafe path/);
    await expect(write({ '/abs': 'x' })).rejects.toThrow(/unsafe path/);
    await expect(
      writeOutput({ outDir: root, files: { a: 'b' }, version: 't', cwd: join(root, 'sub') }),
    ).rejects.toMatchObject({ code: 'USAGE' });
    expect(readdirSync(root)).toEqual([]);
  });

  it('an output directory without a manifest counts as not written by mcml', async () => {
    mkdirSync(out());
    writeFileSync(join(out(), 'main.tf'), 'hand-written');
    await expect(write({ 'main.tf': 'x' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(readFileSync(join(out(), 'main.tf'), 'utf8')).toBe('hand-written');
  });
});
