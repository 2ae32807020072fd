import { describe, expect, it } from 'vitest';
import { planWaves } from './waves.js';

const targets = [
  { name: 'aws', tier: 1 },
  { name: 'gcp', tier: 2 },
  { name: 'azure', tier: 3 },
  { name: 'gcp-eu', tier: 2 },
];

describe('planWaves', () => {
  it('makes one wave per tier, the standby tiers (lowest risk) first', () => {
    expect(planWaves(targets)).toEqual([['azure'], ['gcp', 'gcp-eu'], ['aws']]);
  });

  it('goes primary first, all at once, or as named', () => {
    expect(planWaves(targets, { order: 'primary-first' })).toEqual([
      ['aws'],
      ['gcp', 'gcp-eu'],
      ['azure'],
    ]);
    expect(planWaves(targets, { allAtOnce: true })).toEqual([['aws', 'gcp', 'azure', 'gcp-eu']]);
    expect(planWaves(targets, { waves: 'gcp, gcp-eu; azure ,aws' })).toEqual([
      ['gcp', 'gcp-eu'],
      ['azure', 'aws'],
    ]);
  });

  it('refuses explicit waves that name an unknown target, one twice, or leave one out', () => {
    expect(() => planWaves(targets, { waves: 'aws;gcp;azure;gcp-eu;oci' })).toThrow(
      /--waves names "oci", which is not a target being deployed/,
    );
    expect(() => planWaves(targets, { waves: 'aws,aws;gcp;azure;gcp-eu' })).toThrow(
      /names "aws" twice/,
    );
    expect(() => planWaves(targets, { waves: 'aws;gcp' })).toThrow(/leaves out azure, gcp-eu/);
  });
});
