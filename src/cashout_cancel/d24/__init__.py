"""The D24 Cashouts API v3 client: signing, one HTTP exchange bounded in wall-clock time,
retries, and the redaction of what D24 echoes back. Knows HTTP, not Lambda."""
