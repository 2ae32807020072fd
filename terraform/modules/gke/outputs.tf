output "cluster_name" {
  description = "GKE cluster name."
  value       = google_container_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API server URL."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "cluster_ca_certificate" {
  description = "Base64 PEM of the cluster CA."
  value       = google_container_cluster.this.master_auth[0].cluster_ca_certificate
}

output "service_account_email" {
  description = "Google service account for the Kubernetes service account (iam.gke.io/gcp-service-account)."
  value       = google_service_account.service.email
}
