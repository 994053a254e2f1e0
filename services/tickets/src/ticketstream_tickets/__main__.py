"""`python -m ticketstream_tickets`: run the tickets service."""

from ticketstream.service import serve
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: create_app(settings), settings)


if __name__ == "__main__":
    main()
