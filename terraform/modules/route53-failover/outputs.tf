output "record_name" {
  description = "The failover record."
  value       = var.record_name
}

output "health_check_ids" {
  description = "Route 53 health check ID per tier name."
  value       = { for name, check in aws_route53_health_check.tier : name => check.id }
}
