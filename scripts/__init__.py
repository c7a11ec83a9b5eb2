"""Developer and operator commands (not packaged for Lambda): local server, demo data, backfill."""
