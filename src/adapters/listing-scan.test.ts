import { describe, expect, it } from 'vitest';
import { element, leafText, leaves, records, rootContent, scanned } from './listing-scan.js';

/** What a scan function sees, or undefined when the scan gave up. */
const scan = <T>(xml: string, f: (xml: string) => T) => scanned(xml, f);

describe('listing scan', () => {
  it('finds the root, records and text fields, decoding entities', () => {
    const xml =
      '\uFEFF<?xml version="1.0"?>\n<R xmlns="x"><N>1</N><Rec><K>a &amp; b</K><S/></Rec>' +
      '<Rec><K Encoded="true">%20</K></Rec></R>\n';
    expect(
      scan(xml, (x) => {
        const root = rootContent(x, 'R');
        return {
          n: leafText(root, 'N'),
          recs: records(root, 'Rec').map((r) => [leafText(r, 'K'), leafText(r, 'S')]),
          attributes: element(root.slice(root.lastIndexOf('<Rec>')), 'K')?.attributes.trim(),
        };
      }),
    ).toEqual({
      n: '1',
      recs: [
        ['a & b', ''],
        ['%20', undefined],
      ],
      attributes: 'Encoded="true"',
    });
  });

  it('reads flat elements as name and text, empty ones included', () => {
    expect(scan('<sha256>ab</sha256>\n <Name>x &lt;</Name><e/>', leaves)).toEqual({
      sha256: 'ab',
      Name: 'x <',
      e: '',
    });
  });

  it('gives up on what it cannot read with certainty', () => {
    const field = (x: string) => leafText(rootContent(x, 'R'), 'S');
    for (const xml of [
      '<R><!-- c --><S>1</S></R>', // comment
      '<R><S><![CDATA[1]]></S></R>', // CDATA
      '<R><S><x/></S><S>2</S></R>', // the first <S> holds an element
      '<R><S>1</S></R><R/>', // more than one root
      'text<R><S>1</S></R>', // text before the root
      '<R><S a="1>2">1</S></R>', // ">" inside an attribute
      '<R><S>&bogus;</S></R>', // an unknown entity
    ]) {
      expect(scan(xml, field), xml).toBeUndefined();
    }
    expect(scan('<R><S>1</S></R>', (x) => rootContent(x, 'Q'))).toBeUndefined();
    expect(scan('<R><Rec><Rec>1</Rec></Rec></R>', (x) => records(x, 'Rec'))).toBeUndefined();
    expect(scan('<a>1</a>text<b>2</b>', leaves)).toBeUndefined();
    expect(scan('<a x="1">1</a>', leaves)).toBeUndefined();
  });

  it('tells an element from a longer name that starts the same', () => {
    expect(scan('<R><KeyCount>2</KeyCount><Key>k</Key></R>', (x) => leafText(x, 'Key'))).toBe(
      undefined, // <KeyCount> comes first: left to the full reader
    );
    expect(scan('<R><Key>k</Key><KeyCount>2</KeyCount></R>', (x) => leafText(x, 'Key'))).toBe('k');
    expect(scan('<R><Sizes>9</Sizes></R>', (x) => leafText(x, 'Size'))).toBeUndefined();
  });
});
