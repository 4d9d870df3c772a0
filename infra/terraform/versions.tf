# One bantay deployment: the artifact bucket and one least-privilege role per component.
#
# This is a module: it declares no provider, so the caller chooses the account, region and
# endpoint (see envs/ for dev and prod roots, and tests/infra for a local endpoint).
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
