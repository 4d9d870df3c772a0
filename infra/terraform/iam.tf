# One role per bantay component, each allowed exactly what its code does with the bucket.
#
# Who may do what (everything not granted is denied; no role but the operator deletes, except the
# promoter's removal of the shadow marker when a shadow is stopped):
#
#   role      reads                              writes
#   trainer   models/**, staging/**              new files in models/*/versions/** (create-only),
#                                                staging/**
#   promoter  models/**                          models/*/production.json (compare-and-swap),
#                                                models/*/shadow.json (written; deleted to stop)
#   scorer    models/** (versions and pointers)  nothing
#   drift     models/**, reports/**              reports/**, new re-baselines in
#                                                models/*/versions/*/baselines/ (create-only)
#   operator  everything under <prefix>/         everything under <prefix>/, deletes included
#
# "create-only" is a condition on the If-None-Match header (s3:if-none-match): S3 then refuses
# to replace an existing object (412), and a write without the header is denied outright.
# Listing is granted because S3 answers a missing key with AccessDenied, not NoSuchKey, to a
# principal that may not list; bantay tells "not published yet" from "forbidden" that way.

locals {
  bucket_arn  = aws_s3_bucket.artifacts.arn
  root        = "${local.bucket_arn}/${local.prefix}"
  models      = "${local.root}/models/*"
  versions    = "${local.root}/models/*/versions/*"
  baselines   = "${local.root}/models/*/versions/*/baselines/*"
  pointer     = "${local.root}/models/*/production.json"
  shadow      = "${local.root}/models/*/shadow.json"
  reports     = "${local.root}/reports/*"
  staging     = "${local.root}/staging/*"
  create_only = { Null = { "s3:if-none-match" = "false" } }

  list = {
    for component, prefixes in {
      trainer  = ["models/*", "staging/*"]
      promoter = ["models/*"]
      scorer   = ["models/*"]
      drift    = ["models/*", "reports/*"]
      operator = ["*"]
    } :
    component => {
      Sid       = "List"
      Effect    = "Allow"
      Action    = component == "operator" ? ["s3:ListBucket", "s3:ListBucketVersions"] : ["s3:ListBucket"]
      Resource  = local.bucket_arn
      Condition = { StringLike = { "s3:prefix" = [for p in prefixes : "${local.prefix}/${p}"] } }
    }
  }

  object_statements = {
    trainer = [
      { Sid = "Read", Effect = "Allow", Action = ["s3:GetObject"], Resource = [local.models, local.staging] },
      { Sid = "PublishNewVersions", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.versions, Condition = local.create_only },
      { Sid = "Scratch", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.staging },
    ]
    promoter = [
      { Sid = "Read", Effect = "Allow", Action = ["s3:GetObject"], Resource = local.models },
      # The pointer is replaced only by compare-and-swap (If-Match), or created once (If-None-Match).
      { Sid = "SwapPointer", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.pointer, Condition = { Null = { "s3:if-match" = "false" } } },
      { Sid = "CreatePointer", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.pointer, Condition = local.create_only },
      { Sid = "StageShadow", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.shadow },
      # Stopping a shadow removes its marker (the shadow DAG's stop), and nothing else.
      { Sid = "StopShadow", Effect = "Allow", Action = ["s3:DeleteObject"], Resource = local.shadow },
    ]
    scorer = [
      { Sid = "Read", Effect = "Allow", Action = ["s3:GetObject"], Resource = local.models },
    ]
    drift = [
      { Sid = "Read", Effect = "Allow", Action = ["s3:GetObject"], Resource = [local.models, local.reports] },
      { Sid = "WriteReports", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.reports },
      { Sid = "Rebaseline", Effect = "Allow", Action = ["s3:PutObject"], Resource = local.baselines, Condition = local.create_only },
    ]
    operator = [
      {
        Sid    = "Repair"
        Effect = "Allow"
        Action = [
          "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject",
          "s3:DeleteObject", "s3:DeleteObjectVersion",
        ]
        Resource = "${local.root}/*"
      },
    ]
  }

  # With a customer-managed key, reading needs Decrypt and writing GenerateDataKey as well.
  kms_statements = {
    for component in keys(local.object_statements) :
    component => var.kms_key_arn == null ? [] : [{
      Sid      = "Key"
      Effect   = "Allow"
      Action   = component == "scorer" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    }]
  }

  trusted = {
    for component in keys(local.object_statements) :
    component => component == "operator" ? coalesce(var.operator_principal_arns, var.trusted_principal_arns) : var.trusted_principal_arns
  }
}

resource "aws_iam_role" "component" {
  for_each    = local.object_statements
  name        = "${var.name}-${each.key}"
  description = "bantay ${each.key} of ${var.name}: s3://${var.bucket_name}/${local.prefix}/"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = local.trusted[each.key] }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = merge(local.tags, { "bantay:component" = each.key })
}

resource "aws_iam_role_policy" "component" {
  for_each = local.object_statements
  name     = "bantay-artifacts"
  role     = aws_iam_role.component[each.key].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.list[each.key]], each.value, local.kms_statements[each.key])
  })
}
