"""Lambda entry point of the {{ consumer.name }} consumer; its business code lives in ``logic``."""

from {{ saga.package_name }}.consumers.{{ consumer.name }} import logic
from {{ saga.package_name }}.runtime.consumer import OutcomeConsumer
from {{ saga.package_name }}.runtime.models import OutcomeDetailType

# The outcome events the consumer's EventBridge rule routes to it.
DETAIL_TYPES: tuple[OutcomeDetailType, ...] = {{ consumer.detail_types | python_tuple }}

consumer = OutcomeConsumer(name="{{ consumer.name }}", detail_types=DETAIL_TYPES, function=logic.handle)

handle = consumer.handler
