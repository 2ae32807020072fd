/**
 * The Azure Blob SDK bindings storage.ts opens a container with, imported by name: a namespace
 * import (`import('@azure/storage-blob')`) would keep the whole SDK (batches, leases, page
 * blobs, the file-system helpers…) in the bundle, parsed and run at every start of an Azure sync.
 */
export { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
