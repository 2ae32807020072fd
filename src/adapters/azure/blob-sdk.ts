/**
 * The Azure Blob SDK bindings storage.ts opens a container with, imported by name: the build
 * vendors only the bindings the sources name (scripts/build-vendor.ts), and refuses a namespace
 * import such as `import('@azure/storage-blob')`.
 */
export { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
