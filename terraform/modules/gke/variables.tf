variable "name" {
  description = "Cluster name (at most 40 characters); also the prefix of this module's resources."
  type        = string
}

variable "project" {
  description = "GCP project ID."
  type        = string
}

variable "region" {
  description = "GCP region of the regional cluster, e.g. us-central1."
  type        = string
}

variable "node_zones" {
  description = "Zones of the ML node pools (where the accelerator is offered); [] for the region's default zones."
  type        = list(string)
  default     = []
}

variable "kubernetes_version" {
  description = "Minimum GKE control plane version."
  type        = string
  default     = "1.34"
}

variable "subnet_cidr" {
  description = "Primary range of the nodes' subnet."
  type        = string
  default     = "10.50.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for pods."
  type        = string
  default     = "10.52.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range for services."
  type        = string
  default     = "10.56.0.0/20"
}

variable "machine_type" {
  description = "Machine type of the ML node pool, e.g. n1-standard-8."
  type        = string
}

variable "accelerator_type" {
  description = "GPU type attached to each ML node, e.g. nvidia-tesla-v100; \"\" for none."
  type        = string
  default     = ""
}

variable "accelerator_count" {
  description = "GPUs per ML node."
  type        = number
  default     = 0
}

variable "on_demand_nodes" {
  description = "Total autoscaling bounds of the on-demand ML node pool; max 0 creates none."
  type = object({
    min = number
    max = number
  })
}

variable "spot_nodes" {
  description = "Total autoscaling bounds of the spot ML node pool; max 0 creates none."
  type = object({
    min = number
    max = number
  })
  default = {
    min = 0
    max = 0
  }
}

variable "system_machine_type" {
  description = "Machine type of the small system node pool."
  type        = string
  default     = "e2-standard-4"
}

variable "bucket_name" {
  description = "GCS bucket the service reads its model from."
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

variable "deletion_protection" {
  description = "Refuse to destroy the cluster."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "api_private" {
  description = "Private cluster: private nodes and a control plane reachable only from inside the network."
  type        = bool
  default     = false
}

variable "api_authorized_cidrs" {
  description = "The only CIDRs that may reach the control plane (master authorized networks); empty: no restriction beyond api_private."
  type        = list(string)
  default     = []
}

variable "master_cidr" {
  description = "Private cluster: the /28 the control plane's private endpoint uses."
  type        = string
  default     = "172.16.0.32/28"
}

variable "node_disk_gb" {
  description = "Disk of each ML node (GB): the OS, the images and each replica's model cache (mcml sizes it from service.model.cacheSize)."
  type        = number
  default     = 100
}
