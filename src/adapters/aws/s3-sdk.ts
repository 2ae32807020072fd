/**
 * The S3 SDK bindings storage.ts opens a store with, imported by name: the build vendors only
 * the bindings the sources name (scripts/build-vendor.ts), and refuses a namespace import such
 * as `import('@aws-sdk/client-s3')`, which would take all ~100 of the SDK's commands.
 */
export { S3Client } from '@aws-sdk/client-s3';
