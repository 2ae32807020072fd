/**
 * The YAML text of rendered Kubernetes documents, and the documents each text this process
 * rendered came from. `mcml deploy` renders in memory and then builds every target's objects
 * as kustomize would, from that text: parsing it back is the largest part of a deploy's start
 * (the YAML parser runs cold), so the build asks here first. What is remembered is the
 * documents as their text parses back: JSON data (YAML drops what JSON drops: undefined).
 */
import { stringify } from 'yaml';

const remembered = new Map<string, unknown[]>();

/** The documents as one YAML stream (`---` between them), remembered for `renderedDocuments`. */
export function yamlDocuments(docs: readonly object[]): string {
  const text = docs
    .map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n');
  if (remembered.size >= 256) remembered.clear();
  remembered.set(text, JSON.parse(JSON.stringify(docs)) as unknown[]);
  return text;
}

/** The documents a text rendered by this process holds (not copied), or undefined. */
export function renderedDocuments(text: string): readonly unknown[] | undefined {
  return remembered.get(text);
}
