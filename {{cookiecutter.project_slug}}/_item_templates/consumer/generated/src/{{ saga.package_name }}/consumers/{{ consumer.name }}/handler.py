"""Lambda entry point of the {{ consumer.name }} consumer; its business code lives in ``logic``."""

from {{ saga.package_name }}.consumers.{{ consumer.name }} import DETAIL_TYPES, logic
from {{ saga.package_name }}.runtime.consumer import OutcomeConsumer

consumer = OutcomeConsumer(name="{{ consumer.name }}", detail_types=DETAIL_TYPES, function=logic.handle)

handle = consumer.handler
