"""Create every table and index the service uses where missing (``make tables``).

Safe against an existing production table: it only ever adds a missing index, never changes
keys or data. Against AWS, run it with your usual credentials and without ``--endpoint-url``.
"""

from __future__ import annotations

from chalicelib.tables import ensure_service_tables, protect_table
from scripts.local_dynamodb import client_for, operator_arguments


def main() -> None:
    arguments = operator_arguments(__doc__, protect_option=True)
    client = client_for(arguments.endpoint_url)
    tables = (arguments.table, arguments.rollups_table, arguments.sites_table, arguments.api_keys_table)
    actions = ensure_service_tables(client, *tables)
    if arguments.protect:
        for table in tables:
            actions += protect_table(client, table)
    print("\n".join(actions) if actions else "every table and index already exists; nothing to do")


if __name__ == "__main__":
    main()
