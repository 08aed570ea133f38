"""The {{ consumer.name }} consumer of the saga's outcome events."""
