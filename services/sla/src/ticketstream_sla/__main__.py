"""`python -m ticketstream_sla`: run the sla service."""

from ticketstream.service import serve
from ticketstream_sla.app import create_app
from ticketstream_sla.settings import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: create_app(settings), settings)


if __name__ == "__main__":
    main()
