#!/usr/bin/env bash
# `terraform fmt -check` and `terraform validate` of the module and its environment roots.
# Skipped, with a message, where Terraform is not installed. Providers come from a local mirror
# when one is found (BANTAY_TF_PROVIDER_MIRROR, or a usual place), else from the CLI config.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform not found: skipping terraform fmt/validate of infra/terraform"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

# A CLI config that is named but absent counts as none.
if [[ -z "${TF_CLI_CONFIG_FILE:-}" || ! -f "${TF_CLI_CONFIG_FILE}" ]]; then
  for mirror in "${BANTAY_TF_PROVIDER_MIRROR:-}" /opt/tf-plugins /usr/share/terraform/plugins \
    "$HOME/.terraform.d/plugins"; do
    if [[ -n "$mirror" && -d "$mirror/registry.terraform.io/hashicorp/aws" ]]; then
      printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' \
        "$mirror" >"$work/terraform.rc"
      export TF_CLI_CONFIG_FILE="$work/terraform.rc"
      break
    fi
  done
fi

terraform fmt -check -recursive "$here"
for root in "$here" "$here/envs/dev" "$here/envs/prod"; do
  export TF_DATA_DIR="$work/$(basename "$root")"
  terraform -chdir="$root" init -backend=false -input=false >/dev/null
  terraform -chdir="$root" validate -no-color
done
