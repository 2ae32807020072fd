import { describe, expect, it } from 'vitest';
import { readObjectList, scanObjectList } from './s3-listing.js';
import { scanned } from '../listing-scan.js';

// The shape of the documented ListObjectsV2 response (docs.aws.amazon.com, "ListObjectsV2").
const PAGE = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>p/</Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>p/a &amp; b &lt;1&gt; 😀.bin</Key>
    <LastModified>2026-12-02T10:00:01.000Z</LastModified>
    <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>
    <Size>4096</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>p/big</Key>
    <LastModified>2026-12-02T10:00:02.000Z</LastModified>
    <ETag>"0123456789abcdef0123456789abcdef-3"</ETag>
    <Size>17179869184</Size>
  </Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>`;

describe('readObjectList', () => {
  it('reads keys (entities, unicode), sizes beyond 2^32, dates, ETags and the token', () => {
    expect(readObjectList(PAGE)).toEqual({
      objects: [
        {
          key: 'p/a & b <1> 😀.bin',
          size: 4096,
          lastModified: new Date('2026-12-02T10:00:01Z'),
          etag: '"d41d8cd98f00b204e9800998ecf8427e"',
        },
        {
          key: 'p/big',
          size: 17179869184,
          lastModified: new Date('2026-12-02T10:00:02Z'),
          etag: '"0123456789abcdef0123456789abcdef-3"',
        },
      ],
      nextToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
    });
  });

  it('reads a page the same by its fast path as by the full reader', () => {
    // A comment sends a page to the full reader (listing-scan.ts leaves comments to it).
    const full = (xml: string) =>
      readObjectList(xml.replace('<IsTruncated>', '<!-- --><IsTruncated>'));
    const object = (i: number) =>
      `<Contents><Key>k/${i % 2 ? `a&lt;${i}` : `😀${i}`}</Key><LastModified>2026-12-02T10:00:0${i % 10}.000Z</LastModified>` +
      `<ETag>&quot;${String(i).padStart(32, '0')}&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>` +
      `<Size>${i * 4096}</Size><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;
    const big = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>k/</Prefix><NextContinuationToken>t==</NextContinuationToken><KeyCount>300</KeyCount><MaxKeys>300</MaxKeys><IsTruncated>true</IsTruncated>${Array.from({ length: 300 }, (_, i) => object(i)).join('')}</ListBucketResult>`;
    for (const page of [PAGE, big]) {
      expect(scanned(page, scanObjectList)).toEqual(full(page));
      expect(readObjectList(page)).toEqual(full(page));
    }
    expect(readObjectList(big)?.objects).toHaveLength(300);
    expect(readObjectList(big)?.nextToken).toBe('t==');
  });

  it('has no token on the last page, whatever the body says', () => {
    const last = PAGE.replace('<IsTruncated>true', '<IsTruncated>false');
    expect(readObjectList(last)?.nextToken).toBeUndefined();
  });

  it('leaves other bodies to the SDK', () => {
    expect(readObjectList('<Error><Code>InternalError</Code></Error>')).toBeUndefined();
    expect(readObjectList('not xml')).toBeUndefined();
  });
});
