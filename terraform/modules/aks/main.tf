# AKS cluster for one mcml target: a virtual network, the cluster with the OIDC issuer and
# Workload Identity on (API server public, public from some CIDRs, or a private cluster),
# AKS's cluster autoscaler on every pool (metrics-server is built in), a system pool, the ML node pool(s) (regular and/or spot, labelled and
# tainted) and a user-assigned identity federated with the service's Kubernetes service
# account that can only read the service's blob container.

locals {
  gpu = var.gpu_count > 0
  node_pools = {
    for kind, bounds in { "ondemand" = var.on_demand_nodes, "spot" = var.spot_nodes } :
    kind => bounds if bounds.max > 0
  }
}

resource "azurerm_virtual_network" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = [var.vnet_cidr]
  tags                = var.tags
}

resource "azurerm_subnet" "nodes" {
  name                 = "nodes"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [cidrsubnet(var.vnet_cidr, 4, 0)]
}

resource "azurerm_kubernetes_cluster" "this" {
  name                      = var.name
  location                  = var.location
  resource_group_name       = var.resource_group_name
  dns_prefix                = var.name
  kubernetes_version        = var.kubernetes_version
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  private_cluster_enabled   = var.api_private

  dynamic "api_server_access_profile" {
    for_each = !var.api_private && length(var.api_authorized_cidrs) > 0 ? [1] : []
    content {
      authorized_ip_ranges = var.api_authorized_cidrs
    }
  }

  # Pack pods onto few nodes and give empty GPU nodes back quickly.
  auto_scaler_profile {
    expander                    = "least-waste"
    scale_down_unneeded         = "5m"
    balance_similar_node_groups = true
  }

  default_node_pool {
    name                        = "system"
    vm_size                     = var.system_vm_size
    vnet_subnet_id              = azurerm_subnet.nodes.id
    auto_scaling_enabled        = true
    min_count                   = 1
    max_count                   = 3
    temporary_name_for_rotation = "systemtmp"
    node_labels                 = { workload = "system" }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    load_balancer_sku   = "standard"
  }

  tags = var.tags
}

resource "azurerm_kubernetes_cluster_node_pool" "ml" {
  for_each = local.node_pools

  name                  = each.key == "spot" ? "mlspot" : "mlondemand"
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  vm_size               = var.vm_size
  vnet_subnet_id        = azurerm_subnet.nodes.id
  zones                 = length(var.zones) > 0 ? var.zones : null
  auto_scaling_enabled  = true
  min_count             = each.value.min
  max_count             = each.value.max
  os_disk_size_gb       = var.node_disk_gb

  # Spot: evicted VMs are deleted, and we pay up to the on-demand price (-1) rather than
  # lose capacity to a price cap.
  priority        = each.key == "spot" ? "Spot" : "Regular"
  eviction_policy = each.key == "spot" ? "Delete" : null
  spot_max_price  = each.key == "spot" ? -1 : null

  node_labels = { workload = "ml", "mcml.dev/capacity" = each.key }
  node_taints = local.gpu ? ["nvidia.com/gpu=true:NoSchedule"] : []

  # The cluster autoscaler owns node_count.
  lifecycle {
    ignore_changes = [node_count]
  }

  tags = var.tags
}

# ---------------------------------------------------------------------------- workload identity

resource "azurerm_user_assigned_identity" "service" {
  name                = "${var.name}-service"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "service" {
  name                = "${var.name}-${var.namespace}-${var.service_account}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.service.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${var.namespace}:${var.service_account}"
}

# Least privilege: read blobs of this one container.
resource "azurerm_role_assignment" "service_read" {
  scope                = var.storage_container_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.service.principal_id
}
