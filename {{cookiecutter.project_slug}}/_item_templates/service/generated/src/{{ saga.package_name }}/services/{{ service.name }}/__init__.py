"""The {{ service.name }} step of the saga."""
