"""The saga: its steps, its consumers and the runtime they share."""
