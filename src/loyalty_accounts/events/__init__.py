"""Domain events: a stream of what members' points did, told from the ledger's own hashed log, and its
delivery to webhooks.

- :mod:`.model`: the event (:class:`DomainEvent`: opaque member id, points, transaction, stable id) and its types;
- :mod:`.derive`: a pure function from one ledger log to its events;
- :mod:`.stream`: the programme's log read in id order (:class:`EventSource`), positions (``start``, ``now``, a
  log id, an instant);
- :mod:`.signing`: the HMAC-SHA256 signature of each delivery and its check (:func:`verify_signature`);
- :mod:`.store`: webhooks, positions and dead letters in the registry database;
- :mod:`.delivery`: one webhook's deliverer (at least once, in order, retried, dead-lettered);
- :mod:`.service`: :class:`EventService`, what ``loyalty events`` runs.

No event carries personal data: members are named by the ledger's opaque customer id, and every detail
comes from what the ledger holds, screened again on the way out.
"""

from .delivery import DeliveryPolicy, DeliveryRun, Deliverer, WebhookUnreachable
from .derive import BY_OPERATION, EventStreamError, events_of_log, events_of_logs
from .model import EVENT_TYPES, DomainEvent, EventPosition, event_id
from .service import EventService, NewWebhook, Replay, webhook_url
from .signing import SIGNATURE_HEADER, new_secret, sign, verify_signature
from .store import DeadLetter, DeliveryStore, WebhookRow
from .stream import START, EventSource

__all__ = [
    "BY_OPERATION",
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "START",
    "DeadLetter",
    "Deliverer",
    "DeliveryPolicy",
    "DeliveryRun",
    "DeliveryStore",
    "DomainEvent",
    "EventPosition",
    "EventService",
    "EventSource",
    "EventStreamError",
    "NewWebhook",
    "Replay",
    "WebhookRow",
    "WebhookUnreachable",
    "event_id",
    "events_of_log",
    "events_of_logs",
    "new_secret",
    "sign",
    "verify_signature",
    "webhook_url",
]
