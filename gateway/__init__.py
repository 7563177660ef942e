"""An asyncio SMS gateway: REST and SMPP in, SMPP and HTTP carriers out, durable by design."""

__version__ = "0.1.0"
