"""Local tools outside the deployed package: the D24 sandbox, the demo, the local API, the bench."""
