"""Energy Metrics API internals: settings, queries, time handling, page tokens, DynamoDB store."""
