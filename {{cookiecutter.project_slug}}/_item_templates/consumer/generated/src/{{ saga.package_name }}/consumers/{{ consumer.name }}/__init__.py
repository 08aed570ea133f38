"""The {{ consumer.name }} consumer of the saga's outcome events."""

from {{ saga.package_name }}.runtime.models import OutcomeDetailType

# The outcome events the consumer's EventBridge rule routes to it.
DETAIL_TYPES: tuple[OutcomeDetailType, ...] = {{ consumer.detail_types | python_tuple }}
