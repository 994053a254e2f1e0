"""Container health probe: exit 0 when this container's service answers GET /healthz.

Used by the image's HEALTHCHECK and by docker-compose. It runs every few seconds, so it
uses only the standard library: importing the service's pydantic Settings would cost close
to a second of CPU per probe. The port is read from the same variable the service reads
(`TICKETSTREAM_<SERVICE>_PORT`, which the image sets to the service's default), so an
overridden port is followed rather than guessed.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    service = os.environ["SERVICE"]
    port = os.environ[f"TICKETSTREAM_{service.upper()}_PORT"]
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
