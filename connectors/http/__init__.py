"""Generic HTTP carrier connector, registered as the `http` entry point.

See connectors/http/README.md for its options, placeholders, classification and callbacks.
"""

from connectors.http.connector import HttpConnector

HttpConnectorFactory = HttpConnector

__all__ = ["HttpConnector", "HttpConnectorFactory"]
