"""moto's server, with each DynamoDB request applied atomically, as DynamoDB applies it.

DynamoDB checks a write's ConditionExpression and applies the write as one step, so of two concurrent
`UpdateItem`s conditioned on the same version exactly one succeeds. moto's server is threaded and its DynamoDB
backend takes no lock, so both can pass the check and both succeed. The sync store relies on the real guarantee
(If-Match on updates, the run lease, the invocation claim), so the tests and the local stack run moto through this
launcher, which serialises DynamoDB requests (and only those) behind one lock. Other services stay concurrent.

Usage: python moto_server.py [moto_server's arguments, e.g. -H 127.0.0.1 -p 5000]
"""

import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

# DynamoDB's JSON protocol names the operation in this header, e.g. "DynamoDB_20120810.UpdateItem".
DYNAMODB_TARGET_PREFIX = "DynamoDB_"


class AtomicDynamoDispatcher(DomainDispatcherApplication):
    """Runs every DynamoDB request to completion before the next one starts."""

    _dynamodb_lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            with self._dynamodb_lock:
                # Flask builds the whole response here; iterating it later only yields bytes.
                return super().__call__(environ, start_response)
        return super().__call__(environ, start_response)


def main() -> None:
    server.DomainDispatcherApplication = AtomicDynamoDispatcher
    server.main(sys.argv[1:])


if __name__ == "__main__":
    main()
