variable "name" {
  description = "Cluster name; also the prefix of every resource this module creates."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version."
  type        = string
  default     = "1.34"
}

variable "vpc_cidr" {
  description = "CIDR of the cluster's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread subnets over."
  type        = number
  default     = 3
}

variable "instance_types" {
  description = "Instance types of the ML node group, e.g. [\"p3.2xlarge\"]."
  type        = list(string)
}

variable "gpu_count" {
  description = "GPUs per node; 0 for a CPU-only node group (no GPU AMI, no GPU taint)."
  type        = number
  default     = 0
}

variable "on_demand_nodes" {
  description = "Autoscaling bounds of the on-demand ML node group; max 0 creates none."
  type = object({
    min = number
    max = number
  })
}

variable "spot_nodes" {
  description = "Autoscaling bounds of the spot ML node group; max 0 creates none."
  type = object({
    min = number
    max = number
  })
  default = {
    min = 0
    max = 0
  }
}

variable "system_instance_type" {
  description = "Instance type of the small on-demand node group for cluster add-ons."
  type        = string
  default     = "m6i.large"
}

variable "bucket_name" {
  description = "S3 bucket the service reads its model from."
  type        = string
}

variable "bucket_prefix" {
  description = "Key prefix inside the bucket the service may read (\"\" for the whole bucket)."
  type        = string
  default     = ""
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
  description = "Kubernetes API endpoint reachable only from inside the VPC (and api_authorized_cidrs)."
  type        = bool
  default     = false
}

variable "api_authorized_cidrs" {
  description = "Public endpoint: the only CIDRs that may reach it (empty: anywhere). Private: the CIDRs allowed to its port 443 (empty: the VPC)."
  type        = list(string)
  default     = []
}

variable "autoscaler_service_account" {
  description = "Service account (in kube-system) the cluster autoscaler runs as."
  type        = string
  default     = "cluster-autoscaler"
}

variable "node_disk_gb" {
  description = "Disk of each ML node (GB): the OS, the images and each replica's model cache (mcml sizes it from service.model.cacheSize)."
  type        = number
  default     = 100
}
