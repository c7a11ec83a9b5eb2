"""One ``/records`` request traced as the Lambda runtime traces it, under moto; run in its own
process by the tracing test, since X-Ray's patch of botocore lasts for the whole process.

Prints the answer's status code. The segments go to the X-Ray daemon address in the environment.
"""

from __future__ import annotations

import json

from moto import mock_aws


def main() -> None:
    with mock_aws():
        from app import app  # noqa: PLC0415 - moto must be active before any client exists
        from chalicelib.aws_clients import aws_client  # noqa: PLC0415
        from chalicelib.settings import get_settings  # noqa: PLC0415
        from chalicelib.tables import ensure_service_tables  # noqa: PLC0415
        from scripts.bench_child import LambdaContext, api_gateway_event  # noqa: PLC0415

        settings = get_settings()
        ensure_service_tables(
            aws_client("dynamodb"),
            settings.dynamodb_table,
            settings.rollups_table,
            settings.sites_table,
            settings.api_keys_table,
        )
        response = app(api_gateway_event("/records"), LambdaContext())
        print(json.dumps({"status": response["statusCode"]}))


if __name__ == "__main__":
    main()
