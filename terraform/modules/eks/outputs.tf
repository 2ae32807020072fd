output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API server URL."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  description = "Base64 PEM of the cluster CA."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "service_role_arn" {
  description = "IAM role for the service account (eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.service.arn
}

output "vpc_id" {
  description = "VPC of the cluster."
  value       = aws_vpc.this.id
}

output "autoscaler_role_arn" {
  description = "IAM role of the cluster autoscaler's service account."
  value       = aws_iam_role.autoscaler.arn
}
