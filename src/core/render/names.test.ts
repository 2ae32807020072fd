import { describe, expect, it } from 'vitest';
import { McmlError } from '../errors.js';
import { clusterName, fit, modelPath, parseBucketUri } from './names.js';

describe('names', () => {
  it('fits long names deterministically within the limit', () => {
    const long = 'a'.repeat(30) + '-' + 'b'.repeat(30);
    expect(fit(long, 40)).toHaveLength(40);
    expect(fit(long, 40)).toBe(fit(long, 40));
    expect(fit(long, 40)).not.toBe(fit(long + 'c', 40));
    expect(clusterName('svc', 'aws-primary')).toBe('svc-aws-primary');
  });

  it('parses bucket URIs of every cloud', () => {
    expect(parseBucketUri('s3://b/p/q')).toMatchObject({
      cloud: 'aws',
      bucket: 'b',
      prefix: 'p/q/',
      uri: 's3://b/p/q/',
    });
    expect(parseBucketUri('gs://b')).toMatchObject({
      cloud: 'gcp',
      bucket: 'b',
      prefix: '',
      uri: 'gs://b/',
    });
    expect(parseBucketUri('az://acct/cont/x')).toMatchObject({
      cloud: 'azure',
      bucket: 'acct',
      container: 'cont',
      prefix: 'x/',
    });
    expect(parseBucketUri('https://acct.blob.core.windows.net/cont')).toMatchObject({
      cloud: 'azure',
      bucket: 'acct',
      container: 'cont',
      uri: 'az://acct/cont/',
    });
    expect(() => parseBucketUri('ftp://x')).toThrow(McmlError);
    expect(() => parseBucketUri('az://acct')).toThrow(/az:\/\/account\/container/);
  });

  it('puts the model under models/ in the target bucket unless it already lives there', () => {
    const b = parseBucketUri('s3://b/svc');
    expect(modelPath('models/iris.onnx', b)).toBe('s3://b/svc/models/iris.onnx');
    expect(modelPath('gs://other/m/iris.onnx', b)).toBe('s3://b/svc/models/iris.onnx');
    expect(modelPath('s3://b/svc/custom/m.onnx', b)).toBe('s3://b/svc/custom/m.onnx');
  });
});
