/**
 * A small XML reader for object-store listing responses (Azure List Blobs, S3 ListObjectsV2):
 * elements, attributes, text with the predefined entities and character references, CDATA,
 * comments and the declaration, into a plain tree. No DTD (refused: no entity expansion), no
 * namespace resolution (a prefix stays part of the name). It exists because the SDKs' generic
 * XML-to-model layers cost far more CPU than the listing itself (about 1 s per 1,000-blob page
 * in @azure/storage-blob); this reads such a page in a few milliseconds.
 */

/** One element: its attributes, its child elements in order, and its text (decoded). */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text, entities decoded, not trimmed (child elements' text excluded). */
  text: string;
}

/** Thrown for input that is not well-formed XML (or uses a DTD). */
export class XmlSyntaxError extends Error {
  constructor(message: string, at: number) {
    super(`malformed XML at offset ${at}: ${message}`);
    this.name = 'XmlSyntaxError';
  }
}

/** The attributes of every element that has none (most of a listing): one shared object. */
const NO_ATTRIBUTES: Record<string, string> = Object.freeze({});

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the predefined entities and character references of XML text or an attribute. */
export function decodeXmlText(s: string, at = 0): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new XmlSyntaxError(`"&" without an entity: ${whole}`, at);
    const named = ENTITIES[ref];
    if (named !== undefined) return named;
    const code = /^#x[0-9a-fA-F]+$/.test(ref)
      ? parseInt(ref.slice(2), 16)
      : /^#[0-9]+$/.test(ref)
        ? parseInt(ref.slice(1), 10)
        : NaN;
    if (!(code >= 0 && code <= 0x10ffff))
      throw new XmlSyntaxError(`unknown entity or character reference ${whole}`, at);
    return String.fromCodePoint(code);
  });
}

/** Parses a document; returns its root element. */
export function readXml(xml: string): XmlElement {
  const top: XmlElement = { name: '', attributes: {}, children: [], text: '' };
  const stack: XmlElement[] = [top];
  const n = xml.length;
  let at = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (at < n) {
    const lt = xml.indexOf('<', at);
    const textEnd = lt < 0 ? n : lt;
    const current = stack[stack.length - 1]!;
    if (textEnd > at) {
      const raw = xml.slice(at, textEnd);
      if (stack.length > 1) current.text += decodeXmlText(raw, at);
      else if (raw.trim() !== '') throw new XmlSyntaxError('text outside the root element', at);
    }
    if (lt < 0) break;
    const next = xml[lt + 1];
    if (next === '/') {
      const gt = endOf(xml, '>', lt);
      const name = xml.slice(lt + 2, gt).trimEnd();
      if (stack.length === 1 || current.name !== name)
        throw new XmlSyntaxError(`</${name}> closes <${current.name}>`, lt);
      stack.pop();
      at = gt + 1;
    } else if (next === '?') {
      at = endOf(xml, '?>', lt) + 2;
    } else if (xml.startsWith('<!--', lt)) {
      at = endOf(xml, '-->', lt + 4) + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = endOf(xml, ']]>', lt + 9);
      if (stack.length === 1) throw new XmlSyntaxError('CDATA outside the root element', lt);
      current.text += xml.slice(lt + 9, end);
      at = end + 3;
    } else if (next === '!') {
      throw new XmlSyntaxError('DTDs are not accepted', lt);
    } else {
      at = startTag(xml, lt, stack);
    }
  }
  if (stack.length > 1)
    throw new XmlSyntaxError(`<${stack[stack.length - 1]!.name}> is not closed`, n);
  if (top.children.length !== 1)
    throw new XmlSyntaxError(`${top.children.length} root elements`, 0);
  return top.children[0]!;
}

/** Reads the start tag at `lt`, adds its element, returns the offset after it. */
function startTag(xml: string, lt: number, stack: XmlElement[]): number {
  // Most tags of a listing are a bare name: found with native string searches, which stay
  // fast before the JIT warms up (a CLI reads one listing and exits).
  const gt = xml.indexOf('>', lt);
  if (gt > lt + 1) {
    const inner = xml.slice(lt + 1, gt);
    const empty = inner.endsWith('/');
    const name = empty ? inner.slice(0, -1) : inner;
    if (name !== '' && !BARE_NAME_STOP.test(name)) {
      const element: XmlElement = { name, attributes: NO_ATTRIBUTES, children: [], text: '' };
      stack[stack.length - 1]!.children.push(element);
      if (!empty) stack.push(element);
      return gt + 1;
    }
  }
  return startTagWithAttributes(xml, lt, stack);
}

/** What a bare element name cannot contain (else the tag has attributes, or is malformed). */
const BARE_NAME_STOP = /[\s"'=</]/;

/** A start tag read character by character: attributes, and precise complaints. */
function startTagWithAttributes(xml: string, lt: number, stack: XmlElement[]): number {
  let i = lt + 1;
  while (i < xml.length && !isNameEnd(xml.charCodeAt(i))) i++;
  const name = xml.slice(lt + 1, i);
  if (name === '') throw new XmlSyntaxError('an element without a name', lt);
  const element: XmlElement = { name, attributes: NO_ATTRIBUTES, children: [], text: '' };
  stack[stack.length - 1]!.children.push(element);
  for (;;) {
    while (isSpace(xml.charCodeAt(i))) i++;
    const c = xml[i];
    if (c === '>') {
      stack.push(element);
      return i + 1;
    }
    if (c === '/' && xml[i + 1] === '>') return i + 2;
    if (c === undefined) throw new XmlSyntaxError(`<${name}> is not closed`, lt);
    const eq = endOf(xml, '=', i);
    const attribute = xml.slice(i, eq).trim();
    let q = eq + 1;
    while (isSpace(xml.charCodeAt(q))) q++;
    const quote = xml[q];
    if (attribute === '' || (quote !== '"' && quote !== "'"))
      throw new XmlSyntaxError(`a malformed attribute in <${name}>`, i);
    const close = endOf(xml, quote, q + 1);
    if (element.attributes === NO_ATTRIBUTES) element.attributes = {};
    element.attributes[attribute] = decodeXmlText(xml.slice(q + 1, close), q);
    i = close + 1;
  }
}

function endOf(xml: string, token: string, from: number): number {
  const at = xml.indexOf(token, from);
  if (at < 0) throw new XmlSyntaxError(`"${token}" expected`, from);
  return at;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isNameEnd(c: number): boolean {
  return isSpace(c) || c === 0x3e /* > */ || c === 0x2f; /* / */
}

/** The first child element named `name`. */
export function childOf(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}

/** The text of the first child element named `name` (undefined when there is none). */
export function textOf(element: XmlElement | undefined, name: string): string | undefined {
  return childOf(element, name)?.text;
}
