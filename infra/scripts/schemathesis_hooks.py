"""schemathesis hooks of contact-sync's API fuzzing (loaded by infra/scripts/schemathesis.sh).

Requests whose header values are not HTTP field values (RFC 9110: control characters other than HTAB, or
characters beyond Latin-1) never reach an API function: API Gateway, like any HTTP server, refuses them
itself. Such generated cases are dropped; every other generated request is sent.
"""

import schemathesis


def _is_field_value(value) -> bool:
    if not isinstance(value, str):
        return True
    return all(c == "\t" or 0x20 <= ord(c) <= 0x7E or 0x80 <= ord(c) <= 0xFF for c in value)


@schemathesis.hook
def filter_case(context, case) -> bool:
    return all(_is_field_value(value) for value in (case.headers or {}).values())
