variable "account_name" {
  description = "Globally unique storage account name: 3-24 lower-case letters and digits."
  type        = string
}

variable "container_name" {
  description = "Blob container name."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. westeurope (keeps data in that jurisdiction)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the storage account."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
