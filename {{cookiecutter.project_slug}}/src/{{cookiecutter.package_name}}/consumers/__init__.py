"""The consumers of the saga's outcome events, one module each with its ``handle`` function."""
