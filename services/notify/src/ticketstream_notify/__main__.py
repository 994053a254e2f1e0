"""`python -m ticketstream_notify`: run the notify service."""

from ticketstream.service import serve
from ticketstream_notify.app import create_app
from ticketstream_notify.settings import Settings


def main() -> None:
    settings = Settings()
    serve(lambda: create_app(settings), settings)


if __name__ == "__main__":
    main()
