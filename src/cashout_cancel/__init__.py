"""Cancel D24 cashouts from API Gateway, EventBridge and direct Lambda invokes."""

__version__ = "1.0.0"
