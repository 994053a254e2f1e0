"""`python -m ticketstream_ingest`: run the ingest service."""

from ticketstream.service import serve
from ticketstream_ingest.app import create_app
from ticketstream_ingest.settings import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: create_app(settings), settings)


if __name__ == "__main__":
    main()
