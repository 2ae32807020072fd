import { describe, expect, it } from 'vitest';
import { listBlobsUrl, readBlobList, scanBlobList } from './blob-listing.js';
import { scanned } from '../listing-scan.js';

// The shape of the documented List Blobs response (learn.microsoft.com, "List Blobs").
const PAGE = `\uFEFF<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="c">
  <Prefix>p/</Prefix>
  <MaxResults>2</MaxResults>
  <Blobs>
    <Blob>
      <Name>p/a &amp; b &lt;1&gt;.bin</Name>
      <Properties>
        <Creation-Time>Wed, 02 Dec 2026 10:00:00 GMT</Creation-Time>
        <Last-Modified>Wed, 02 Dec 2026 10:00:01 GMT</Last-Modified>
        <Etag>0x8DC1234ABCD</Etag>
        <Content-Length>4096</Content-Length>
        <Content-Type>application/octet-stream</Content-Type>
        <Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>
        <BlobType>BlockBlob</BlobType>
      </Properties>
      <Metadata><sha256>abc123</sha256><Name>not the blob's name</Name></Metadata>
    </Blob>
    <Blob>
      <Name Encoded="true">p/%EF%BF%BEodd%01.bin</Name>
      <Properties>
        <Last-Modified>Wed, 02 Dec 2026 10:00:02 GMT</Last-Modified>
        <Etag>"0x8DC5678"</Etag>
        <Content-Length>0</Content-Length>
        <Content-MD5 />
      </Properties>
      <Metadata />
    </Blob>
    <BlobPrefix><Name>p/dir/</Name></BlobPrefix>
  </Blobs>
  <NextMarker>2!80!MDAwMDE2IXAvb2RkLmJpbg--</NextMarker>
</EnumerationResults>`;

describe('readBlobList', () => {
  it('reads names (entities, Encoded="true"), sizes, MD5, dates, ETags, metadata and the marker', () => {
    const page = readBlobList(PAGE);
    expect(page.nextMarker).toBe('2!80!MDAwMDE2IXAvb2RkLmJpbg--');
    expect(page.blobs).toEqual([
      {
        name: 'p/a & b <1>.bin',
        size: 4096,
        lastModified: new Date('2026-12-02T10:00:01Z'),
        md5: 'd41d8cd98f00b204e9800998ecf8427e',
        etag: '0x8DC1234ABCD',
        metadata: { sha256: 'abc123', Name: "not the blob's name" },
      },
      {
        name: 'p/\uFFFEodd\u0001.bin',
        size: 0,
        lastModified: new Date('2026-12-02T10:00:02Z'),
        etag: '0x8DC5678',
        metadata: {},
      },
    ]);
  });

  it('reads a page the same by its fast path as by the full reader', () => {
    // A comment sends a page to the full reader (listing-scan.ts leaves comments to it).
    const full = (xml: string) => readBlobList(xml.replace('<Blobs>', '<Blobs><!-- -->'));
    const blob = (i: number) =>
      `<Blob><Name${i % 3 ? '' : ' Encoded="true"'}>m/${i % 3 ? `f&amp;${i}` : `%C3%A4${i}`}</Name>` +
      `<Snapshot/><Properties><Creation-Time>Wed, 02 Dec 2026 10:00:00 GMT</Creation-Time>` +
      `<Last-Modified>Wed, 02 Dec 2026 10:00:0${i % 10} GMT</Last-Modified><Etag>0x${i}</Etag>` +
      `<Content-Length>${i * 1000}</Content-Length>` +
      (i % 4 ? `<Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>` : '<Content-MD5 />') +
      `<BlobType>BlockBlob</BlobType></Properties>` +
      (i % 5 ? `<Metadata><sha256>${i}</sha256><Etag>meta</Etag></Metadata>` : '<Metadata />') +
      `</Blob>`;
    const big = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><EnumerationResults ContainerName="c"><Blobs>${Array.from({ length: 200 }, (_, i) => blob(i)).join('')}<BlobPrefix><Name>d/</Name></BlobPrefix></Blobs><NextMarker>m</NextMarker></EnumerationResults>`;
    for (const page of [PAGE, big]) {
      expect(scanned(page, scanBlobList)).toEqual(full(page));
      expect(readBlobList(page)).toEqual(full(page));
    }
    expect(readBlobList(big).blobs).toHaveLength(200);
    expect(readBlobList(big).blobs[0]).toMatchObject({ name: 'm/ä0', etag: '0x0', metadata: {} });
  });

  it('has no next marker on the last page', () => {
    const last = readBlobList('<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>');
    expect(last).toEqual({ blobs: [], nextMarker: undefined });
  });

  it('refuses a body that is not a blob listing', () => {
    expect(() => readBlobList('<Error><Code>X</Code></Error>')).toThrow('EnumerationResults');
  });
});

describe('listBlobsUrl', () => {
  it('adds the listing query, encoding the prefix and marker, after a SAS query', () => {
    expect(
      listBlobsUrl('https://a.blob.core.windows.net/c?sv=2024&sig=x%2By', {
        prefix: 'models/ä b+c&d',
        marker: '2!8!x==',
      }),
    ).toBe(
      'https://a.blob.core.windows.net/c?sv=2024&sig=x%2By&restype=container&comp=list&include=metadata&maxresults=5000&prefix=models%2F%C3%A4%20b%2Bc%26d&marker=2!8!x%3D%3D',
    );
    expect(listBlobsUrl('http://127.0.0.1:1/acct/c', { maxResults: 3 })).toBe(
      'http://127.0.0.1:1/acct/c?restype=container&comp=list&include=metadata&maxresults=3',
    );
  });
});
