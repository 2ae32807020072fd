/**
 * Listing pages read by regular expressions: the fast path of the listing readers
 * (s3-listing.ts, azure/blob-listing.ts). A page of 1,000 blobs is ~25,000 elements; the full
 * reader (xml-reader.ts) visits every one in JavaScript, which costs ~45 ms per Azure page and
 * ~15 ms per S3 page in a CLI that reads one listing and exits before the JIT has warmed. Here
 * each record and each field a sync needs is found by the regular expression engine (native
 * code), a few calls per record, and the rest is skipped: ~18 ms per Azure page.
 *
 * It reads only what it can read with certainty. A page with a comment, CDATA or a DTD, a field
 * holding elements where text is expected, or a record it cannot delimit makes it give up
 * (`scanned` returns undefined), and the caller reads the page with the full reader, which also
 * reports malformed XML precisely.
 */
import { decodeXmlText, XmlSyntaxError } from './xml-reader.js';

/** Thrown inside a scan when the page is not one this reader can read with certainty. */
class Unreadable extends Error {}

/**
 * Runs `scan` over a page, or returns undefined when the page holds markup this reader leaves
 * to the full one (a comment, CDATA, a DTD) or the scan gives up.
 */
export function scanned<T>(xml: string, scan: (xml: string) => T): T | undefined {
  if (xml.includes('<!')) return undefined;
  try {
    return scan(xml);
  } catch (error) {
    // A bad entity too: the full reader says where.
    if (error instanceof Unreadable || error instanceof XmlSyntaxError) return undefined;
    throw error;
  }
}

/** Gives up the scan (for a reader meeting a shape it does not expect). */
export function unreadable(): never {
  throw new Unreadable();
}

/** The content of the root element, after checking its name and that nothing else is there. */
export function rootContent(xml: string, name: string): string {
  const m = patterns(name).root.exec(xml);
  return m ? m[2]! : unreadable();
}

/**
 * The content of each `<name>` element of `xml` (written without attributes), in order. An
 * element of the same name inside one makes the scan give up.
 */
export function records(xml: string, name: string): string[] {
  const { record, open } = patterns(name);
  const out: string[] = [];
  for (const m of xml.matchAll(record)) {
    if (m[1]!.includes(open)) unreadable();
    out.push(m[1]!);
  }
  return out;
}

/** The first `<name>` element of `xml`: its attributes (raw) and content; undefined if none. */
export function element(
  xml: string,
  name: string,
): { attributes: string; content: string; end: number } | undefined {
  const p = patterns(name);
  const at = xml.search(p.start);
  if (at < 0) return undefined;
  p.element.lastIndex = at;
  const m = p.element.exec(xml);
  if (!m) return unreadable();
  const content = m[2] ?? '';
  if (p.start.test(content)) unreadable(); // the first end tag closed an inner one
  return { attributes: m[1] ?? '', content, end: at + m[0].length };
}

/**
 * The decoded text of the first `<name>` element of `xml`; undefined when there is none. One
 * holding elements makes the scan give up.
 */
export function leafText(xml: string, name: string): string | undefined {
  const p = patterns(name);
  const m = p.leaf.exec(xml);
  // The first leaf must be the first element of that name (else that one holds elements).
  const first = xml.indexOf(p.tag);
  if (!m) return first >= 0 && p.start.test(xml) ? unreadable() : undefined;
  if (m.index !== first) unreadable();
  return decodeXmlText(m[2] ?? '');
}

/**
 * The elements of `xml` as name → decoded text, each without attributes and holding text only
 * (Azure's Metadata); anything else between them but white space makes the scan give up.
 */
export function leaves(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  LEAVES.lastIndex = 0;
  let m;
  while (LEAVES.lastIndex < xml.length && (m = LEAVES.exec(xml))) {
    out[m[1]!] = decodeXmlText(m[2] ?? '');
  }
  if (xml.slice(LEAVES.lastIndex).trim() !== '') unreadable();
  return out;
}

/** One element after another from where the last ended: `<n>text</n>`, or `<n/>`. */
const LEAVES = /\s*<([^\s<>/="']+)\s*(?:\/>|>([^<]*)<\/\1\s*>)\s*/y;

interface Patterns {
  root: RegExp;
  record: RegExp;
  open: string;
  tag: string;
  start: RegExp;
  leaf: RegExp;
  element: RegExp;
}

const cache = new Map<string, Patterns>();

/** The expressions for one element name (names are fixed strings from the readers). */
function patterns(name: string): Patterns {
  let p = cache.get(name);
  if (!p) {
    const attributes = `((?:\\s+[\\w:.-]+\\s*=\\s*(?:"[^"<>]*"|'[^'<>]*'))*)\\s*`;
    p = {
      // A BOM, the declaration, white space; the root; white space.
      root: new RegExp(
        `^\\uFEFF?\\s*(?:<\\?xml[^>]*\\?>\\s*)?<${name}${attributes}>([\\s\\S]*)</${name}\\s*>\\s*$`,
      ),
      record: new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'),
      open: `<${name}>`,
      tag: `<${name}`,
      start: new RegExp(`<${name}[\\s/>]`),
      leaf: new RegExp(`<${name}${attributes}(?:/>|>([^<]*)</${name}\\s*>)`),
      element: new RegExp(`<${name}${attributes}(?:/>|>([\\s\\S]*?)</${name}\\s*>)`, 'y'),
    };
    cache.set(name, p);
  }
  return p;
}
