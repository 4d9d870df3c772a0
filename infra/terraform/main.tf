# The artifact bucket. Layout under <prefix>/ (the storage contract in README.md):
#
#   models/<model>/versions/<version>/...   immutable: model, reference, manifest, baselines
#   models/<model>/production.json          the pointer serving reads (compare-and-swap)
#   models/<model>/shadow.json              the version scored beside production
#   reports/drift/<model>/<date>/...        drift reports
#   staging/                                the trainer's scratch space, expired by lifecycle

locals {
  prefix = trim(var.prefix, "/")
  tags   = merge({ "bantay:deployment" = var.name }, var.tags)
}

resource "aws_s3_bucket" "artifacts" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  # Object Lock can only be switched on when the bucket is created.
  object_lock_enabled = var.object_lock_days != null
  tags                = local.tags
}

# Versioning keeps every overwritten pointer and report recoverable; Object Lock requires it.
resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

# Nothing in this bucket is ever public: people read reports through presigned links.
resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  # Rules refer to versions, so versioning must be on first.
  depends_on = [aws_s3_bucket_versioning.artifacts]

  # Published versions never expire (rollback needs them); what they replace does, after a while.
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"

    filter {
      prefix = "${local.prefix}/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "drift-reports"
    status = "Enabled"

    filter {
      prefix = "${local.prefix}/reports/"
    }

    expiration {
      days = var.report_retention_days
    }
  }

  rule {
    id     = "staging"
    status = "Enabled"

    filter {
      prefix = "${local.prefix}/staging/"
    }

    expiration {
      days = var.staging_retention_days
    }
  }
}

# Optional: every object version is kept for object_lock_days (GOVERNANCE: nobody deletes a
# version early unless granted s3:BypassGovernanceRetention, which no role here has).
resource "aws_s3_bucket_object_lock_configuration" "artifacts" {
  count  = var.object_lock_days == null ? 0 : 1
  bucket = aws_s3_bucket.artifacts.id

  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.object_lock_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

# Two rules S3 evaluates on every request, whoever signs it: TLS only, and a trainer upload
# into versions/ must carry If-None-Match, so S3 itself refuses to overwrite a published file.
resource "aws_s3_bucket_policy" "artifacts" {
  count  = var.bucket_policy ? 1 : 0
  bucket = aws_s3_bucket.artifacts.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "TlsOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "TrainerCreatesOnly"
        Effect    = "Deny"
        Principal = { AWS = aws_iam_role.component["trainer"].arn }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.artifacts.arn}/${local.prefix}/models/*/versions/*"
        Condition = { Null = { "s3:if-none-match" = "true" } }
      },
    ]
  })

  # A policy cannot be attached while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}
