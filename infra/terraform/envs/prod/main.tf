# The prod deployment: `terraform init && terraform apply` here, with credentials for the
# target account in the environment (AWS_PROFILE or the usual AWS_* variables).
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State belongs in a shared, locked backend once more than one person applies, e.g.:
  # backend "s3" { bucket = "<state bucket>", key = "bantay/prod.tfstate", region = "eu-west-1", use_lockfile = true }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "bucket_name" {
  description = "Globally unique artifact bucket name for prod."
  type        = string
}

variable "airflow_worker_role_arns" {
  description = "Role(s) the prod Airflow workers run as; they assume the component roles."
  type        = list(string)
}

variable "operator_principal_arns" {
  description = "People on call for prod (assume the operator role). Defaults to the workers."
  type        = list(string)
  default     = null
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { "bantay:environment" = "prod" }
  }
}

module "bantay" {
  source = "../.."

  name                    = "bantay-prod"
  bucket_name             = var.bucket_name
  prefix                  = "bantay"
  region                  = var.region
  trusted_principal_arns  = var.airflow_worker_role_arns
  operator_principal_arns = var.operator_principal_arns

  noncurrent_version_retention_days = 180
  report_retention_days             = 730
  # Published objects cannot be deleted for a year, not even by the operator role.
  object_lock_days = 365
}

output "bantay" {
  value = module.bantay
}
