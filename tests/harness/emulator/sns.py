"""SNS delivery to Lambda functions: a Lambda subscription gets the event Lambda documents,
invoked asynchronously (AWS Lambda Developer Guide, "Using Lambda with Amazon SNS"; Amazon SNS
Developer Guide, "Fanout to Lambda functions").

moto would invoke its own Lambda through Docker; here the functions are the ones the tests
register (`Emulator.register_function`), run under the Runtime API (tests/harness/runtime.py)."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any


# SNS delivery to Lambda functions: the functions SNS delivers to, ARN -> a started
# tests.harness.runtime.LambdaFunction.
_FUNCTIONS: dict[str, Any] = {}


def _sns_deliver(self: Any, message: str, message_id: str, subject: str | None = None,
                 message_attributes: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """SNS delivery to Lambda functions: a Lambda subscription gets the event Lambda documents for
    SNS ("Using Lambda with Amazon SNS": one record, `EventSource` aws:sns, the message and its
    topic), invoked asynchronously, in its own thread. moto would invoke its own Lambda through
    Docker."""
    if self.protocol != "lambda":
        return _orig_sns_publish(self, message, message_id, subject=subject,
                                 message_attributes=message_attributes, **kwargs)
    function = _FUNCTIONS.get(self.endpoint)
    if function is None:
        print(f"emulator: no function registered for {self.endpoint}: message dropped", file=sys.stderr)
        return None
    event = {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": self.arn,
        "Sns": {
            "Type": "Notification", "MessageId": message_id, "TopicArn": self.topic.arn,
            "Subject": subject, "Message": message,
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
            "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.arn}",
            "MessageAttributes": {},
        },
    }]}
    threading.Thread(target=function.invoke, args=(event,), daemon=True).start()
    return None


_orig_sns_publish: Any = None


def install_patches() -> None:
    """SNS delivers to the registered Lambda functions (idempotent)."""
    global _orig_sns_publish
    from moto.sns.models import Subscription

    if _orig_sns_publish is None:
        _orig_sns_publish = Subscription.publish
    Subscription.publish = _sns_deliver  # type: ignore[method-assign]
