#!/usr/bin/env bash
# The release walkthrough of docs/release.md, end to end, in a throw-away ASSAY_HOME (needs scripts/setup.sh test first,
# for numpy and safetensors, which build the two small model versions).
# Intake two signed versions, release them, approve (refused for the submitter, then by two others), promote
# through dev, staging and production, a canary, a rollback fire drill and a rollback, then verify the audit log
# in the database and, offline, the exported bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(mktemp -d)"
export ASSAY_HOME="$WORK/home" ASSAY_ACTOR=alice
A=.venv/bin/assay
run() { echo "+ $*"; "$@"; }
.venv/bin/python - "$WORK" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.fixtures.model_folders import card, write_model
for n in (1, 2):
    write_model(Path(sys.argv[1]) / f"classifier-v{n}", card=card("apache-2.0", base_model="acme/base"), seed=n)
PY
run $A keygen "$WORK/team"
mkdir -p "$ASSAY_HOME/trust" && cp "$WORK/team.pub.pem" "$ASSAY_HOME/trust/"   # keys the gates trust
for n in 1 2; do
  run $A sign "$WORK/classifier-v$n" --key "$WORK/team.pem"
  run $A intake "$WORK/classifier-v$n" --name acme/classifier --owner ml-platform --risk-tier medium \
      --public-key "$WORK/team.pub.pem"
  run $A release create "r$n" --model "acme/classifier@$n"
done
run $A role grant alice admin                  # the first admin: while there is none, an actor may name themself
for who in alice bob carol; do run $A role grant "$who" approver; done
echo "+ $A approve r1 --env staging   # alice submitted r1: refused"
if $A approve r1 --env staging; then echo "submitter approval was accepted" >&2; exit 1; fi
for who in bob carol; do
  for env in staging production; do
    for rel in r1 r2; do ASSAY_ACTOR=$who run $A approve "$rel" --env "$env"; done
  done
done
for env in dev staging production; do run $A promote r1 --env "$env"; done
echo "+ $A promote r2 --env production   # not yet in staging: refused, production untouched"
if $A promote r2 --env production; then echo "the gate let r2 skip staging" >&2; exit 1; fi
run $A promote r2 --env dev
run $A promote r2 --env staging
run $A promote r2 --env production --canary 10
run $A status
run $A promote r2 --env production
run $A rollback --env production --dry-run
run $A rollback --env production
run $A history --env production
run $A audit verify
run $A audit export --output "$WORK/audit.zip"
run $A audit verify --bundle "$WORK/audit.zip" --public-key "$ASSAY_HOME/keys/audit-log.pub.pem"
echo "walkthrough complete: $WORK"
