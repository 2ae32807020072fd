variable "name" {
  description = "Globally unique GCS bucket name."
  type        = string
}

variable "project" {
  description = "GCP project ID."
  type        = string
}

variable "location" {
  description = "Bucket location: a region such as europe-west1 (keeps data in that jurisdiction)."
  type        = string
}

variable "force_destroy" {
  description = "Delete the objects too when the bucket is destroyed."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels added to the bucket."
  type        = map(string)
  default     = {}
}
