"""`python -m ticketstream_analytics`: run the analytics service."""

from ticketstream.service import serve
from ticketstream_analytics.app import create_app
from ticketstream_analytics.settings import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: create_app(settings), settings)


if __name__ == "__main__":
    main()
