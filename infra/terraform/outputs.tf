output "bucket" {
  description = "storage.bucket for bantay.yaml (or BANTAY_STORAGE__BUCKET)."
  value       = aws_s3_bucket.artifacts.id
}

output "prefix" {
  description = "storage.prefix for bantay.yaml (or BANTAY_STORAGE__PREFIX)."
  value       = local.prefix
}

output "region" {
  description = "Region of the bucket."
  value       = var.region
}

output "role_arns" {
  description = "ARN of each component's role: trainer, promoter, scorer, drift, operator."
  value       = { for component, role in aws_iam_role.component : component => role.arn }
}

output "airflow_connections" {
  description = "One Airflow AWS connection per component, as AIRFLOW_CONN_<ID> JSON: the amazon provider assumes the role from the worker's own credentials."
  value = {
    for component, role in aws_iam_role.component :
    "bantay_aws_${component}" => jsonencode({
      conn_type = "aws"
      extra = {
        region_name       = var.region
        role_arn          = role.arn
        role_session_name = "${var.name}-${component}"
      }
    })
  }
}
