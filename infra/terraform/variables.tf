variable "name" {
  description = "Deployment name (e.g. bantay-prod): prefixes every role name and tags every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or '-', e.g. bantay-prod."
  }
}

variable "bucket_name" {
  description = "The artifact bucket (storage.bucket in bantay.yaml). Globally unique on AWS."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')."
  }
}

variable "prefix" {
  description = "Key prefix of the deployment inside the bucket (storage.prefix in bantay.yaml)."
  type        = string
  default     = "bantay"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", var.prefix)) && !contains(split("/", var.prefix), "..")
    error_message = "prefix must be a relative key prefix such as 'bantay' or 'bantay/prod' (no leading or trailing '/')."
  }
}

variable "region" {
  description = "AWS region of the bucket; written into the connection settings the module outputs."
  type        = string
  default     = "eu-west-1"
}

variable "trusted_principal_arns" {
  description = "Who may assume the component roles: the IAM role (or user) the Airflow workers run as."
  type        = list(string)

  validation {
    condition     = length(var.trusted_principal_arns) > 0
    error_message = "Name at least one principal (the Airflow workers' role ARN); otherwise nobody can use the roles."
  }
}

variable "operator_principal_arns" {
  description = "Who may assume the operator role (people on call). Defaults to trusted_principal_arns."
  type        = list(string)
  default     = null
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted object version (an old production.json, a replaced report) is kept before S3 expires it."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "report_retention_days" {
  description = "Days drift reports (<prefix>/reports/) are kept."
  type        = number
  default     = 400

  validation {
    condition     = var.report_retention_days >= 1
    error_message = "report_retention_days must be at least 1."
  }
}

variable "staging_retention_days" {
  description = "Days scratch files under <prefix>/staging/ are kept."
  type        = number
  default     = 7

  validation {
    condition     = var.staging_retention_days >= 1
    error_message = "staging_retention_days must be at least 1."
  }
}

variable "object_lock_days" {
  description = "If set, published objects are kept under S3 Object Lock (GOVERNANCE) for this many days: no version can be deleted before then, not even by the operator role. Only takes effect on a new bucket."
  type        = number
  default     = null

  validation {
    condition     = var.object_lock_days == null ? true : var.object_lock_days >= 1
    error_message = "object_lock_days must be null (no lock) or at least 1."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for default encryption; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "bucket_policy" {
  description = "Attach the bucket policy that refuses plain HTTP and trainer uploads to versions/ without If-None-Match. Leave on; local S3 emulators that evaluate bucket policies without principals or conditions need it off."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds objects. Never in production."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}
