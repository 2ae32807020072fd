# Ordered failover over any number of tiers with Route 53's two-way failover records:
# level k (the record itself for k = 0, "tier<k+1>.<record>" below) has tier k+1 as PRIMARY
# and, as SECONDARY, an alias to level k+1 — or the last tier itself at the deepest level.
# So 3 tiers are: record = PRIMARY tier1 / SECONDARY alias tier2.record;
# tier2.record = PRIMARY tier2 / SECONDARY tier3. A tier whose host is an IPv4 address (GCP
# and some Azure load balancers) gets an A record "<name>.lb.<record>" for the CNAMEs to use.
# mcml's change batch JSON (dns/route53-change-batch.json) has the same record sets.

locals {
  n             = length(var.tiers)
  level_names   = [for k in range(local.n) : k == 0 ? var.record_name : "tier${k + 1}.${var.record_name}"]
  tiers_by_name = { for t in var.tiers : t.name => t }
  ip_tiers      = { for t in var.tiers : t.name => t if can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", t.host)) }
  tier_hosts = {
    for t in var.tiers : t.name => contains(keys(local.ip_tiers), t.name) ? "${t.name}.lb.${var.record_name}" : t.host
  }
}

resource "aws_route53_record" "lb_ip" {
  for_each = local.ip_tiers

  zone_id = var.zone_id
  name    = "${each.key}.lb.${var.record_name}"
  type    = "A"
  ttl     = var.ttl
  records = [each.value.host]
}

resource "aws_route53_health_check" "tier" {
  for_each = local.tiers_by_name

  fqdn              = contains(keys(local.ip_tiers), each.key) ? null : each.value.host
  ip_address        = contains(keys(local.ip_tiers), each.key) ? each.value.host : null
  port              = each.value.port
  type              = upper(each.value.protocol)
  resource_path     = each.value.path
  request_interval  = var.request_interval
  failure_threshold = var.failure_threshold
  measure_latency   = true
  tags              = merge(var.tags, { Name = "mcml-${each.key}", "mcml-target" = each.key })
}

# One tier: a plain record, no failover.
resource "aws_route53_record" "single" {
  count = local.n == 1 ? 1 : 0

  zone_id = var.zone_id
  name    = var.record_name
  type    = "CNAME"
  ttl     = var.ttl
  records = [local.tier_hosts[var.tiers[0].name]]
}

# PRIMARY of every level: tier k+1 with its health check.
resource "aws_route53_record" "primary" {
  for_each = { for k in range(local.n - 1) : tostring(k) => k }

  zone_id         = var.zone_id
  name            = local.level_names[each.value]
  type            = "CNAME"
  ttl             = var.ttl
  records         = [local.tier_hosts[var.tiers[each.value].name]]
  set_identifier  = var.tiers[each.value].name
  health_check_id = aws_route53_health_check.tier[var.tiers[each.value].name].id

  failover_routing_policy {
    type = "PRIMARY"
  }
}

# SECONDARY of the deepest level: the last tier itself.
resource "aws_route53_record" "secondary_last" {
  count = local.n >= 2 ? 1 : 0

  zone_id         = var.zone_id
  name            = local.level_names[local.n - 2]
  type            = "CNAME"
  ttl             = var.ttl
  records         = [local.tier_hosts[var.tiers[local.n - 1].name]]
  set_identifier  = var.tiers[local.n - 1].name
  health_check_id = aws_route53_health_check.tier[var.tiers[local.n - 1].name].id

  failover_routing_policy {
    type = "SECONDARY"
  }
}

# SECONDARY of the other levels: an alias to the next level's failover pair.
resource "aws_route53_record" "secondary_nested" {
  for_each = { for k in range(max(local.n - 2, 0)) : tostring(k) => k }

  zone_id        = var.zone_id
  name           = local.level_names[each.value]
  type           = "CNAME"
  set_identifier = "${var.tiers[each.value + 1].name}-and-below"

  alias {
    name                   = local.level_names[each.value + 1]
    zone_id                = var.zone_id
    evaluate_target_health = true
  }

  failover_routing_policy {
    type = "SECONDARY"
  }
}
