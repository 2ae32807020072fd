import { describe, expect, it } from 'vitest';
import { childOf, decodeXmlText, readXml, textOf, XmlSyntaxError } from './xml-reader.js';

describe('readXml', () => {
  it('reads elements, attributes and text, skipping the declaration, comments and a BOM', () => {
    const doc = readXml(
      '\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<!-- a listing -->\n' +
        '<Root a="1" b=\'two\'>\n  <One>first</One>\n  <Two x="y"/>\n  <Two>second</Two>\n</Root>\n',
    );
    expect(doc.name).toBe('Root');
    expect(doc.attributes).toEqual({ a: '1', b: 'two' });
    expect(doc.children.map((c) => c.name)).toEqual(['One', 'Two', 'Two']);
    expect(textOf(doc, 'One')).toBe('first');
    expect(childOf(doc, 'Two')).toMatchObject({ attributes: { x: 'y' }, text: '' });
    expect(textOf(doc, 'Missing')).toBeUndefined();
  });

  it('decodes the predefined entities and character references, also in attributes', () => {
    const doc = readXml(
      '<r k="&quot;q&quot; &amp; &lt;t&gt;">a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;&#x41;</r>',
    );
    expect(doc.text).toBe('a & b <c> "d" \'e\' é😀A');
    expect(doc.attributes.k).toBe('"q" & <t>');
  });

  it('keeps text exactly: spaces, unicode, CDATA', () => {
    const doc = readXml(
      '<r><a>  two  spaces </a><b>日本語/ü/😀</b><c><![CDATA[<not & markup>]]></c></r>',
    );
    expect(textOf(doc, 'a')).toBe('  two  spaces ');
    expect(textOf(doc, 'b')).toBe('日本語/ü/😀');
    expect(textOf(doc, 'c')).toBe('<not & markup>');
  });

  it('nests elements of the same name correctly', () => {
    const doc = readXml('<Blob><Metadata><Blob>inner</Blob></Metadata><Name>n</Name></Blob>');
    expect(textOf(doc, 'Name')).toBe('n');
    expect(textOf(childOf(doc, 'Metadata'), 'Blob')).toBe('inner');
  });

  it.each([
    ['<a><b></a></b>', '</a> closes <b>'],
    ['<a><b></b>', '<a> is not closed'],
    ['<a></a><b></b>', '2 root elements'],
    ['text<a/>', 'text outside the root element'],
    ['<a>&unknown;</a>', 'unknown entity'],
    ['<a>R&D</a>', '"&" without an entity'],
    ['<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', 'DTDs are not accepted'],
    ['<a b=c></a>', 'malformed attribute'],
    ['<a', 'is not closed'],
    ['', '0 root elements'],
  ])('refuses %j (%s)', (xml, message) => {
    expect(() => readXml(xml)).toThrow(XmlSyntaxError);
    expect(() => readXml(xml)).toThrow(message);
  });

  it('leaves text without entities as it is', () => {
    const s = 'plain text';
    expect(decodeXmlText(s)).toBe(s);
  });
});
