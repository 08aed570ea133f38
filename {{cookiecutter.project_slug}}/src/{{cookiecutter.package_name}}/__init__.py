"""The saga's services, consumers and the runtime they share."""
