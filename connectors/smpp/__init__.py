"""SMPP 3.4 client connector (ESME), registered as the `smpp` entry point."""

from connectors.smpp.connector import SmppConnector

SmppConnectorFactory = SmppConnector

__all__ = ["SmppConnector", "SmppConnectorFactory"]
