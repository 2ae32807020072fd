# GKE cluster for one mcml target: a VPC-native network, a regional cluster with Workload
# Identity (API endpoint public, public from some CIDRs, or private with private nodes and
# Cloud NAT), GKE's cluster autoscaler on every pool, a small system pool, the ML node pool(s) (on-demand and/or spot, with the GPU
# driver installed by GKE, labelled and tainted) and a Google service account that can only
# read the service's bucket.

locals {
  gpu = var.accelerator_count > 0 && var.accelerator_type != ""
  node_pools = {
    for kind, bounds in { "on-demand" = var.on_demand_nodes, "spot" = var.spot_nodes } :
    kind => bounds if bounds.max > 0
  }
  node_roles = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ])
}

# ---------------------------------------------------------------------------- network

resource "google_compute_network" "this" {
  project                 = var.project
  name                    = var.name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "this" {
  project                  = var.project
  name                     = var.name
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }
}

# Private nodes have no public address: Cloud NAT lets them pull images and reach the APIs.
resource "google_compute_router" "this" {
  count   = var.api_private ? 1 : 0
  project = var.project
  name    = var.name
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  count                              = var.api_private ? 1 : 0
  project                            = var.project
  name                               = var.name
  region                             = var.region
  router                             = google_compute_router.this[0].name
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"
}

# ---------------------------------------------------------------------------- nodes' identity

resource "google_service_account" "nodes" {
  project      = var.project
  account_id   = substr("${var.name}-nodes", 0, 30)
  display_name = "GKE nodes of ${var.name}"
}

resource "google_project_iam_member" "nodes" {
  for_each = local.node_roles
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.nodes.email}"
}

# ---------------------------------------------------------------------------- cluster

resource "google_container_cluster" "this" {
  project             = var.project
  name                = var.name
  location            = var.region
  network             = google_compute_network.this.id
  subnetwork          = google_compute_subnetwork.this.id
  min_master_version  = var.kubernetes_version
  deletion_protection = var.deletion_protection

  # Node pools are managed below; GKE needs one at creation, removed right after.
  remove_default_node_pool = true
  initial_node_count       = 1

  release_channel {
    channel = "REGULAR"
  }

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }

  # Node pools scale within their bounds; pack pods onto few nodes, GPUs are expensive.
  cluster_autoscaling {
    autoscaling_profile = "OPTIMIZE_UTILIZATION"
  }

  dynamic "private_cluster_config" {
    for_each = var.api_private ? [1] : []
    content {
      enable_private_nodes    = true
      enable_private_endpoint = true
      master_ipv4_cidr_block  = var.master_cidr
    }
  }

  # A private endpoint needs authorized networks on: with no CIDRs listed, only the cluster's
  # own network reaches it.
  dynamic "master_authorized_networks_config" {
    for_each = var.api_private || length(var.api_authorized_cidrs) > 0 ? [1] : []
    content {
      dynamic "cidr_blocks" {
        for_each = var.api_authorized_cidrs
        content {
          cidr_block   = cidr_blocks.value
          display_name = "mcml-${cidr_blocks.key}"
        }
      }
    }
  }

  resource_labels = var.labels
}

resource "google_container_node_pool" "system" {
  project        = var.project
  name           = "system"
  location       = var.region
  cluster        = google_container_cluster.this.name
  node_count     = 1
  node_locations = length(var.node_zones) > 0 ? var.node_zones : null

  node_config {
    machine_type    = var.system_machine_type
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = merge(var.labels, { workload = "system" })
    resource_labels = var.labels

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

resource "google_container_node_pool" "ml" {
  for_each = local.node_pools

  project        = var.project
  name           = "ml-${each.key}"
  location       = var.region
  cluster        = google_container_cluster.this.name
  node_locations = length(var.node_zones) > 0 ? var.node_zones : null

  autoscaling {
    total_min_node_count = each.value.min
    total_max_node_count = each.value.max
    location_policy      = "ANY"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.machine_type
    spot            = each.key == "spot"
    disk_size_gb    = var.node_disk_gb
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    labels          = merge(var.labels, { workload = "ml", "mcml.dev/capacity" = each.key })
    resource_labels = var.labels

    dynamic "guest_accelerator" {
      for_each = local.gpu ? [1] : []
      content {
        type  = var.accelerator_type
        count = var.accelerator_count
        gpu_driver_installation_config {
          gpu_driver_version = "LATEST"
        }
      }
    }

    dynamic "taint" {
      for_each = local.gpu ? [1] : []
      content {
        key    = "nvidia.com/gpu"
        value  = "true"
        effect = "NO_SCHEDULE"
      }
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

# ---------------------------------------------------------------------------- workload identity

resource "google_service_account" "service" {
  project      = var.project
  account_id   = substr("${var.name}-svc", 0, 30)
  display_name = "mcml service ${var.namespace}/${var.service_account} on ${var.name}"
}

resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.service.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${var.namespace}/${var.service_account}]"
}

# Least privilege: read objects of this one bucket.
resource "google_storage_bucket_iam_member" "service_read" {
  bucket = var.bucket_name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.service.email}"
}
