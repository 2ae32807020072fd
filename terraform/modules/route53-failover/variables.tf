variable "zone_id" {
  description = "Route 53 hosted zone ID."
  type        = string
}

variable "record_name" {
  description = "Record the service answers on, e.g. ml.example.com."
  type        = string
}

variable "ttl" {
  description = "TTL of the records, in seconds; keep it low so failover is quick."
  type        = number
  default     = 30
}

variable "tiers" {
  description = <<-EOT
    Targets in failover order (tier 1 first). host is the load balancer's DNS name (or a
    name pointing at it); health checks probe https://host:port/path (or http).
  EOT
  type = list(object({
    name     = string
    host     = string
    protocol = string
    port     = number
    path     = string
  }))

  validation {
    condition     = length(var.tiers) >= 1
    error_message = "At least one tier is needed."
  }
}

variable "request_interval" {
  description = "Seconds between health checks from each checker: 10 (fast) or 30."
  type        = number
  default     = 10
}

variable "failure_threshold" {
  description = "Consecutive failed checks before a tier is unhealthy."
  type        = number
  default     = 3
}

variable "tags" {
  description = "Tags added to the health checks."
  type        = map(string)
  default     = {}
}
