#!/usr/bin/python3
"""A Narrowcast client in Python, over gRPC (HTTP/2 cleartext), with bindings generated from proto/.

With the operators' AdminService it creates an app, three users (alice, bob, carol) and a WORK
group; then bob and carol subscribe to their event streams, alice sends a targeted message to bob
alone and then an ordinary message to everyone (the barrier): bob receives the targeted message
with its receiver list, carol receives the barrier and never the targeted message. Last, alice
sends a targeted message that names herself as receiver, which the server rejects; the typed
error (a google.rpc.ErrorInfo in the grpc-status-details-bin trailer) is read and printed.

    examples/python/generate.sh /tmp/nc-py                       # bindings
    PYTHONPATH=/tmp/nc-py /usr/bin/python3 examples/python/targeted_message.py \\
        --target 127.0.0.1:8080 --admin-key "$(cat data/admin-key)"

Prints one JSON object with what happened; exits non-zero if anything differs from the above.
"""
import argparse
import json
import queue
import sys
import threading

import grpc
from google.rpc import error_details_pb2, status_pb2
from narrowcast.admin.v1 import admin_service_pb2, admin_service_pb2_grpc, app_pb2
from narrowcast.v1 import (
    event_service_pb2,
    event_service_pb2_grpc,
    group_pb2,
    message_pb2,
    message_service_pb2,
    message_service_pb2_grpc,
)

WAIT_SECONDS = 10


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def text(value):
    return message_pb2.MessageElement(text=message_pb2.TextElement(text=value))


def text_of(message):
    return message.elements[0].text.text if message.elements else ""


class EventStream:
    """A Subscribe stream read on a thread; received messages go to a queue."""

    def __init__(self, channel, token, label):
        self.label = label
        self.ready = threading.Event()
        self.messages = queue.Queue()
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        self.call = stub.Subscribe(event_service_pb2.SubscribeRequest(), metadata=bearer(token))
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(WAIT_SECONDS):
            raise RuntimeError(f"{label}: no ready item on the Subscribe stream")

    def _read(self):
        try:
            for item in self.call:
                kind = item.WhichOneof("item")
                if kind == "ready":
                    self.ready.set()
                elif kind == "event" and item.event.WhichOneof("payload") == "message_received":
                    self.messages.put(item.event.message_received.message)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.CANCELLED:
                self.messages.put(err)

    def until(self, body):
        """Every message received up to and including the one whose text is `body`."""
        seen = []
        while True:
            item = self.messages.get(timeout=WAIT_SECONDS)
            if isinstance(item, Exception):
                raise item
            seen.append(item)
            if text_of(item) == body:
                return seen

    def close(self):
        self.call.cancel()


def error_info(err):
    """The google.rpc.ErrorInfo of a failed call, from its grpc-status-details-bin trailer."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return status, info
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port of the server")
    parser.add_argument("--admin-key", required=True, help="the server's AdminService key")
    args = parser.parse_args()

    with grpc.insecure_channel(args.target) as channel:
        admin = admin_service_pb2_grpc.AdminServiceStub(channel)
        key = bearer(args.admin_key)
        app = admin.CreateApp(admin_service_pb2.CreateAppRequest(name="python example", plan=app_pb2.PLAN_ULTIMATE), metadata=key).app
        users = ["alice", "bob", "carol"]
        admin.ImportUsers(admin_service_pb2.ImportUsersRequest(app_id=app.app_id, users=[app_pb2.User(user_id=u, nickname=u) for u in users]), metadata=key)
        tokens = {u: admin.IssueUserToken(admin_service_pb2.IssueUserTokenRequest(app_id=app.app_id, user_id=u), metadata=key).token for u in users}
        group = admin.CreateGroup(
            admin_service_pb2.CreateGroupRequest(app_id=app.app_id, type=group_pb2.GROUP_TYPE_WORK, name="python", owner_id="alice", member_ids=["bob", "carol"]),
            metadata=key,
        ).group

        bob = EventStream(channel, tokens["bob"], "bob")
        carol = EventStream(channel, tokens["carol"], "carol")
        messages = message_service_pb2_grpc.MessageServiceStub(channel)
        sent = messages.SendMessage(
            message_service_pb2.SendMessageRequest(group_id=group.group_id, elements=[text("for bob only")], receiver_ids=["bob"]),
            metadata=bearer(tokens["alice"]),
        ).message
        messages.SendMessage(message_service_pb2.SendMessageRequest(group_id=group.group_id, elements=[text("barrier")]), metadata=bearer(tokens["alice"]))

        bob_messages = bob.until("barrier")
        bob_saw = [text_of(m) for m in bob_messages]
        bob_targeted = next((m for m in bob_messages if text_of(m) == "for bob only"), None)
        carol_saw = [text_of(m) for m in carol.until("barrier")]
        bob.close()
        carol.close()

        try:
            messages.SendMessage(
                message_service_pb2.SendMessageRequest(group_id=group.group_id, elements=[text("to myself")], receiver_ids=["alice"]),
                metadata=bearer(tokens["alice"]),
            )
            rejected = None
        except grpc.RpcError as err:
            status, info = error_info(err)
            rejected = {
                "code": err.code().name,
                "status_code": status.code if status else None,
                "domain": info.domain if info else None,
                "reason": info.reason if info else None,
            }

    result = {
        "sent": {"seq": sent.seq, "receiver_ids": list(sent.receiver_ids)},
        "bob_received": bob_saw,
        "bob_targeted_receivers": list(bob_targeted.receiver_ids) if bob_targeted else None,
        "carol_received": carol_saw,
        "rejected": rejected,
    }
    print(json.dumps(result))
    ok = (
        bob_saw == ["for bob only", "barrier"]
        and result["bob_targeted_receivers"] == ["bob"]
        and carol_saw == ["barrier"]
        and rejected is not None
        and rejected["code"] == "INVALID_ARGUMENT"
        and rejected["reason"] == "SENDER_IN_RECEIVER_LIST"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
