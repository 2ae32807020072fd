/**
 * The S3 SDK bindings storage.ts opens a store with, imported by name: a namespace import
 * (`import('@aws-sdk/client-s3')`) would keep every one of the SDK's ~100 commands in the
 * bundle, and every start of an S3 sync would parse and run them.
 */
export { S3Client } from '@aws-sdk/client-s3';
