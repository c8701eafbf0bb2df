"""moto server for frontdesk's local stack and tests, with DynamoDB made linearizable.

moto's server is threaded and its DynamoDB backend takes no lock, so two concurrent
TransactWriteItems (or conditional writes) can both pass their conditions — something real
DynamoDB never allows. The product's guarantees (one owner per phone number, no double
booking, idempotency records) rest on those conditions, so this launcher serialises every
DynamoDB request behind one lock. SQS and Secrets Manager requests stay concurrent (SQS long
polls must not block the rest).

Usage: python scripts/moto_server.py [-H HOST] [-p PORT]
"""

import argparse
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

_DYNAMODB_LOCK = threading.Lock()


class SerialisedDynamoDB:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with _DYNAMODB_LOCK:
            # Consume the whole response under the lock: the backend work can be lazy.
            body = list(self.app(environ, start_response))
        return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(
        args.host,
        args.port,
        SerialisedDynamoDB(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
