"""Container health for the `web` service (stdlib only; the slim image has no curl).

Healthy when gunicorn answers /api/v1/health and the report says the database and the
broker are reachable. A 503 caused only by an external LLM endpoint does not make the
container unhealthy: restarting gunicorn would not fix someone else's server.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    # Ask with a Host that ALLOWED_HOSTS accepts, or Django answers 400 (DisallowedHost).
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    req = urllib.request.Request("http://127.0.0.1:8000/api/v1/health", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=8) as resp:  # noqa: S310 (fixed URL)
            report = json.load(resp)
    except urllib.error.HTTPError as exc:
        try:
            report = json.load(exc)
        except ValueError:
            sys.stderr.write(f"health: HTTP {exc.code}\n")
            return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        sys.stderr.write(f"health: {exc}\n")
        return 1
    bad = [k for k in ("database", "broker") if not report.get(k, {}).get("ok")]
    if bad:
        sys.stderr.write(f"health: {', '.join(bad)} not ok: {json.dumps(report)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
