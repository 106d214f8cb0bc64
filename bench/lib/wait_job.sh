#!/usr/bin/env bash
# wait_job.sh JOB.json: after POST /v1/jobs, poll GET /v1/jobs/{id} while the job is
# "starting" and rewrite JOB.json with the running job; fail if it ends up failed.
set -euo pipefail
f=$1
url=${FL_URL:-http://127.0.0.1:${FLEECED_REST_PORT:-8593}}
for _ in $(seq 600); do
  state=$(jq -r .state "$f")
  case "$state" in
    running) exit 0 ;;
    starting) sleep 0.05
      curl -sSf ${FLEECED_TOKEN:+-H "Authorization: Bearer $FLEECED_TOKEN"} -o "$f.new" "$url/v1/jobs/$(jq -r .id "$f")"
      mv "$f.new" "$f" ;;
    *) echo "wait_job: job $(jq -r .id "$f") is $state: $(jq -c . "$f")" >&2; exit 1 ;;
  esac
done
echo "wait_job: job still starting after 30 s" >&2; exit 1
