variable "name" {
  description = "Cluster name; also the prefix of this module's resources."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. eastus."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group holding the cluster."
  type        = string
}

variable "kubernetes_version" {
  description = "AKS Kubernetes minor version."
  type        = string
  default     = "1.34"
}

variable "vnet_cidr" {
  description = "Address space of the cluster's virtual network."
  type        = string
  default     = "10.60.0.0/16"
}

variable "vm_size" {
  description = "VM size of the ML node pool, e.g. Standard_NC6s_v3."
  type        = string
}

variable "gpu_count" {
  description = "GPUs per node; 0 for a CPU-only pool (no GPU taint)."
  type        = number
  default     = 0
}

variable "zones" {
  description = "Availability zones of the ML node pools; [] for none."
  type        = list(string)
  default     = []
}

variable "on_demand_nodes" {
  description = "Autoscaling bounds of the regular-priority ML node pool; max 0 creates none."
  type = object({
    min = number
    max = number
  })
}

variable "spot_nodes" {
  description = "Autoscaling bounds of the spot ML node pool; max 0 creates none."
  type = object({
    min = number
    max = number
  })
  default = {
    min = 0
    max = 0
  }
}

variable "system_vm_size" {
  description = "VM size of the system node pool."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "storage_container_id" {
  description = "Resource Manager ID of the blob container the service reads its model from."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the service."
  type        = string
}

variable "service_account" {
  description = "Kubernetes service account the service runs as."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "api_private" {
  description = "Private cluster: the API server has only a private address in the virtual network."
  type        = bool
  default     = false
}

variable "api_authorized_cidrs" {
  description = "Public API server: the only CIDRs that may reach it (empty: anywhere)."
  type        = list(string)
  default     = []
}

variable "node_disk_gb" {
  description = "Disk of each ML node (GB): the OS, the images and each replica's model cache (mcml sizes it from service.model.cacheSize)."
  type        = number
  default     = 128
}
