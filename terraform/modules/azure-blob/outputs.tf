output "account_name" {
  description = "Storage account name."
  value       = azurerm_storage_account.this.name
}

output "container_name" {
  description = "Blob container name."
  value       = azurerm_storage_container.this.name
}

output "container_id" {
  description = "Resource Manager ID of the container (scope for role assignments)."
  value       = azurerm_storage_container.this.id
}
