"""Codec tests for coffer_client: the hex examples of docs/PROTOCOL.md decode to what the spec says and re-encode
byte for byte; malformed input gets the documented errors; the frame decoder agrees with itself fed byte by byte;
the client pipelines against a fake daemon.

    python3 -m unittest discover -s clients/python
"""

import datetime
import os
import re
import socket
import struct
import tempfile
import threading
import unittest

import coffer_client as cc

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "PROTOCOL.md")
UTC = datetime.timezone.utc
TOKEN = "4b2e7b9a-3c1d-4e8f-9a0b-1c2d3e4f5a6b"
ARN = "arn:coffer:secretsmanager:local:123456789012:secret:app/db-password-AbCdEf"
CREATED = datetime.datetime(2026, 11, 29, 14, 13, 41, 123000, tzinfo=UTC)


def load_examples():
    """Every ```hex name=...``` block: whitespace is insignificant and # starts a comment."""
    with open(SPEC, encoding="utf-8") as spec:
        text = spec.read()
    examples = {}
    for name, block in re.findall(r"^```hex name=(\S+)\n(.*?)^```", text, re.S | re.M):
        hex_digits = "".join(line.split("#", 1)[0] for line in block.splitlines())
        examples[name] = bytes.fromhex("".join(hex_digits.split()))
    return examples


EXAMPLES = load_examples()


def decode_frame(data):
    decoder = cc.FrameDecoder()
    decoder.feed(data)
    frame = decoder.next_frame()
    assert frame is not None and decoder.buffered == 0
    return frame


def one_member(key, value_bytes):
    raw = key.encode()
    return b"\x00\x00\x00\x01" + struct.pack(">H", len(raw)) + raw + value_bytes


class SpecExamples(unittest.TestCase):
    EXPECTED = {
        "hello-request": (cc.KIND_REQUEST, "Hello", 1, {"ProtocolVersions": [1], "Client": "coffer-python/0.1"}),
        "hello-response": (cc.KIND_RESPONSE, "Hello", 1, {"ProtocolVersion": 1, "Server": "cofferd 0.1.0"}),
        "create-secret-request": (cc.KIND_REQUEST, "CreateSecret", 2, {
            "Name": "app/db-password", "ClientRequestToken": TOKEN, "SecretString": "hunter2",
            "Tags": [{"Key": "env", "Value": "prod"}]}),
        "create-secret-response": (cc.KIND_RESPONSE, "CreateSecret", 2, {
            "ARN": ARN, "Name": "app/db-password", "VersionId": TOKEN}),
        "get-secret-value-request": (cc.KIND_REQUEST, "GetSecretValue", 3, {"SecretId": "app/db-password"}),
        "get-secret-value-response": (cc.KIND_RESPONSE, "GetSecretValue", 3, {
            "ARN": ARN, "Name": "app/db-password", "VersionId": TOKEN, "SecretString": "hunter2",
            "VersionStages": ["AWSCURRENT"], "CreatedDate": CREATED}),
        "get-secret-value-binary-request": (cc.KIND_REQUEST, "GetSecretValue", 4, {
            "SecretId": "app/tls-key", "VersionStage": "AWSPREVIOUS"}),
        "get-secret-value-binary-response": (cc.KIND_RESPONSE, "GetSecretValue", 4, {
            "ARN": "arn:coffer:secretsmanager:local:123456789012:secret:app/tls-key-Xy12Zw",
            "Name": "app/tls-key", "VersionId": "0f1e2d3c-4b5a-4697-8877-665544332211",
            "SecretBinary": b"\x00\x01\x7f\x80\xfe\xff", "VersionStages": ["AWSPREVIOUS"],
            "CreatedDate": datetime.datetime(2026, 11, 29, 14, 13, 20, tzinfo=UTC)}),
        "error-reply": (cc.KIND_ERROR, "GetSecretValue", 5, {
            "__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."}),
        "list-secrets-request": (cc.KIND_REQUEST, "ListSecrets", 6, {
            "Filters": [{"Key": "name", "Values": ["app/"]}, {"Key": "tag-key", "Values": ["env", "team"]}],
            "MaxResults": 10, "IncludePlannedDeletion": False, "SortOrder": "asc"}),
        "list-secrets-response": (cc.KIND_RESPONSE, "ListSecrets", 6, {"SecretList": [{
            "ARN": ARN, "Name": "app/db-password", "LastChangedDate": CREATED,
            "Tags": [{"Key": "env", "Value": "prod"}], "SecretVersionsToStages": {TOKEN: ["AWSCURRENT"]},
            "CreatedDate": CREATED}]}),
        "unknown-operation-request": (cc.KIND_REQUEST, 0x01FF, 7, {}),
        "unknown-operation-reply": (cc.KIND_ERROR, 0x01FF, 7, {
            "__type": "UnknownOperationException", "Message": "Unknown operation code 0x01ff."}),
        "unsupported-version-request": (cc.KIND_REQUEST, "Hello", 8, {}),
        "unsupported-version-reply": (cc.KIND_ERROR, "Hello", 8, {
            "__type": "UnsupportedProtocolVersionException",
            "Message": "Protocol version 2 is not supported; this server speaks version 1."}),
    }

    def test_every_example_has_an_expectation(self):
        self.assertEqual(set(EXAMPLES), set(self.EXPECTED))

    def test_examples_decode_and_reencode_byte_for_byte(self):
        for name, data in EXAMPLES.items():
            with self.subTest(name):
                kind, operation, request_id, document = self.EXPECTED[name]
                frame = decode_frame(data)
                code = operation if isinstance(operation, int) else cc.OPERATIONS[operation]
                self.assertEqual((frame.kind, frame.operation, frame.request_id), (kind, code, request_id))
                self.assertEqual(frame.version, 2 if name == "unsupported-version-request" else 1)
                decoded = frame.document()
                self.assertEqual(decoded, document)
                self.assertEqual(list(decoded), list(document))  # member order too
                self.assertEqual(frame.encode(), data)
                self.assertEqual(cc.encode_frame(kind, code, request_id, decoded, version=frame.version), data)
                self.assertEqual(cc.encode_document(document), data[12:])

    def test_types_of_decoded_values(self):
        response = decode_frame(EXAMPLES["get-secret-value-binary-response"]).document()
        self.assertIsInstance(response["SecretBinary"], bytes)
        self.assertIsInstance(response["CreatedDate"], datetime.datetime)
        self.assertEqual(response["CreatedDate"].tzinfo, UTC)
        listed = decode_frame(EXAMPLES["list-secrets-request"]).document()
        self.assertIs(listed["IncludePlannedDeletion"], False)

    def test_every_truncation_is_incomplete_not_an_error(self):
        for name, data in EXAMPLES.items():
            for cut in range(len(data)):
                decoder = cc.FrameDecoder()
                decoder.feed(data[:cut])
                self.assertIsNone(decoder.next_frame(), "%s cut at %d" % (name, cut))
                self.assertEqual(decoder.buffered, cut)

    def test_every_truncated_body_is_a_typed_error(self):
        for name, data in EXAMPLES.items():
            body = data[12:]
            for cut in range(len(body)):
                with self.assertRaises(cc.ProtocolError, msg="%s body cut at %d" % (name, cut)) as caught:
                    cc.decode_document(body[:cut])
                self.assertIn(caught.exception.rule, ("truncated", "lengthPastEnd", "countTooLarge"))


class FrameDecoding(unittest.TestCase):
    STREAM = b"".join(EXAMPLES.values())

    def frames(self, chunks):
        decoder = cc.FrameDecoder()
        out = []
        for chunk in chunks:
            decoder.feed(chunk)
            while True:
                frame = decoder.next_frame()
                if frame is None:
                    break
                out.append((frame.version, frame.kind, frame.operation, frame.request_id, frame.body))
        self.assertEqual(decoder.buffered, 0)
        return out

    def test_all_at_once_and_byte_by_byte_agree(self):
        whole = self.frames([self.STREAM])
        self.assertEqual(len(whole), len(EXAMPLES))
        self.assertEqual(self.frames([self.STREAM[i:i + 1] for i in range(len(self.STREAM))]), whole)
        self.assertEqual(self.frames([self.STREAM[i:i + 7] for i in range(0, len(self.STREAM), 7)]), whole)

    def test_bad_lengths(self):
        for length, rule in [(n, "frameTooShort") for n in range(8)] + [
                (cc.MAX_FRAME_LENGTH + 1, "frameTooLarge"), (0xFFFFFFFF, "frameTooLarge")]:
            decoder = cc.FrameDecoder()
            prefix = struct.pack(">I", length)
            decoder.feed(prefix[:3])
            self.assertIsNone(decoder.next_frame())
            decoder.feed(prefix[3:])
            with self.assertRaises(cc.ProtocolError) as caught:
                decoder.next_frame()
            self.assertEqual(caught.exception.rule, rule)
            decoder.feed(b"\x00" * 32)
            with self.assertRaises(cc.ProtocolError):
                decoder.next_frame()

    def test_largest_frame(self):
        body_size = cc.MAX_FRAME_LENGTH - cc.HEADER_SIZE
        frame = cc.Frame(1, cc.KIND_REQUEST, 0x0103, 9, b"\x5a" * body_size).encode()
        self.assertEqual(len(frame), 4 + cc.MAX_FRAME_LENGTH)
        self.assertEqual(self.frames([frame])[0][4], b"\x5a" * body_size)
        with self.assertRaises(ValueError):
            cc.Frame(1, cc.KIND_REQUEST, 0x0103, 9, b"\x5a" * (body_size + 1)).encode()


class Documents(unittest.TestCase):
    ROUND_TRIPS = [
        {},
        {"f": False, "t": True},
        {"zero": 0, "one": 1, "minus": -1, "min": cc.INT64_MIN, "max": cc.INT64_MAX},
        {"s": "", "u": "é – 😀 – 中文 – \U0010ffff", "nul": "a\x00b"},
        {"": "empty key", "k" * 0xFFFF: 7},
        {"b": b"", "all": bytes(range(256))},
        {"epoch": datetime.datetime(1970, 1, 1, tzinfo=UTC),
         "before": datetime.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
         "now": CREATED},
        {"l": [], "mixed": [1, "two", True, b"\x03", {"four": 4}], "nested": [[], [[]], [[1], [2, 3]]]},
        {"d": {}, "deep": {"a": {"b": {"c": "d"}}}},
        {"SecretString": "p@ss wörd", "SecretBinary": bytes(range(256)) * 256},
        {"k%d" % i: i for i in range(500)},
    ]

    def test_round_trips(self):
        for document in self.ROUND_TRIPS:
            with self.subTest(keys=list(document)[:3]):
                encoded = cc.encode_document(document)
                decoded = cc.decode_document(encoded)
                self.assertEqual(decoded, document)
                self.assertEqual(cc.encode_document(decoded), encoded)

    def test_documented_layout(self):
        self.assertEqual(
            cc.encode_document({"a": True, "n": 258, "s": "hi", "l": [False]}),
            bytes([0, 0, 0, 4, 0, 1, 0x61, 0x02, 0, 1, 0x6E, 0x03, 0, 0, 0, 0, 0, 0, 1, 2,
                   0, 1, 0x73, 0x04, 0, 0, 0, 2, 0x68, 0x69, 0, 1, 0x6C, 0x07, 0, 0, 0, 1, 0x01]))
        naive = datetime.datetime(1970, 1, 1, 0, 0, 0, 2000)
        self.assertEqual(cc.encode_document({"t": naive}), bytes([0, 0, 0, 1, 0, 1, 0x74, 0x06]) + struct.pack(">q", 2))

    def test_deepest_nesting(self):
        value = []
        for _ in range(cc.MAX_NESTING_DEPTH - 2):
            value = [value]
        self.assertEqual(cc.decode_document(cc.encode_document({"l": value})), {"l": value})
        with self.assertRaises(ValueError):
            cc.encode_document({"l": [value]})

    def test_encoder_rejects_what_it_cannot_encode(self):
        for bad in [{"n": None}, {"n": 1.5}, {"n": 1 << 63}, {1: "x"}, {"s": "\ud800"}, {"k" * 0x10000: 1}, {"o": object()}]:
            with self.assertRaises((TypeError, ValueError)):
                cc.encode_document(bad)

    A = b"\x00\x01a"
    SECRET = struct.pack(">H", 12) + b"SecretString"
    MALFORMED = [
        ("empty body", b"", "truncated", 0),
        ("count cut off", b"\x00\x00\x00", "truncated", 0),
        ("count without members", b"\x00\x00\x00\x01", "countTooLarge", 0),
        ("count 2^32-1", b"\xff\xff\xff\xff\x00\x00\x01", "countTooLarge", 0),
        ("key past end", b"\x00\x00\x00\x01\x00\x05a\x01", "lengthPastEnd", 4),
        ("second key length cut off", b"\x00\x00\x00\x02\x00\x00\x04\x00\x00\x00\x00\x00", "truncated", 11),
        ("value missing", b"\x00\x00\x00\x01" + A, "truncated", 7),
        ("tag 0x00", b"\x00\x00\x00\x01" + A + b"\x00", "unknownTag", 7),
        ("tag 0x09", b"\x00\x00\x00\x01" + A + b"\x09", "unknownTag", 7),
        ("tag 0xff", b"\x00\x00\x00\x01" + A + b"\xff", "unknownTag", 7),
        ("integer cut off", b"\x00\x00\x00\x01" + A + b"\x03\x00\x00\x00", "truncated", 8),
        ("string past end", b"\x00\x00\x00\x01" + A + b"\x04\x00\x00\x00\x05x", "lengthPastEnd", 8),
        ("string 2^32-1", b"\x00\x00\x00\x01" + A + b"\x04\xff\xff\xff\xff", "lengthPastEnd", 8),
        ("invalid UTF-8", b"\x00\x00\x00\x01" + A + b"\x04\x00\x00\x00\x01\xff", "invalidUTF8", 12),
        ("overlong UTF-8", b"\x00\x00\x00\x01" + A + b"\x04\x00\x00\x00\x02\xc0\xaf", "invalidUTF8", 12),
        ("invalid UTF-8 key", b"\x00\x00\x00\x01\x00\x01\x80\x01", "invalidUTF8", 6),
        ("surrogate in SecretString", b"\x00\x00\x00\x01" + SECRET + b"\x04\x00\x00\x00\x05hi\xed\xa0\x80",
         "invalidUTF8", 23),
        ("duplicate key", b"\x00\x00\x00\x02" + A + b"\x01" + A + b"\x02", "duplicateKey", 8),
        ("list count 2^32-1", b"\x00\x00\x00\x01" + A + b"\x07\xff\xff\xff\xff", "countTooLarge", 8),
        ("list element cut off", b"\x00\x00\x00\x01" + A + b"\x07\x00\x00\x00\x02\x01\x03", "truncated", 14),
        ("nesting too deep", b"\x00\x00\x00\x01" + A + b"\x07\x00\x00\x00\x01" * 31 + b"\x07\x00\x00\x00\x00",
         "nestingTooDeep", 7 + 5 * 31),
        ("trailing byte", b"\x00\x00\x00\x00\x00", "trailingBytes", 4),
    ]

    def test_malformed_bodies(self):
        for name, body, rule, offset in self.MALFORMED:
            with self.subTest(name):
                with self.assertRaises(cc.ProtocolError) as caught:
                    cc.decode_document(body)
                self.assertEqual((caught.exception.rule, caught.exception.offset), (rule, offset))

    def test_huge_count_allocates_nothing(self):
        # Without the count check this would build a 50-million-entry list.
        with self.assertRaises(cc.ProtocolError):
            cc.decode_document(b"\x00\x00\x00\x01" + self.A + b"\x07\x02\xfa\xf0\x80\x01\x01")


class JSONMapping(unittest.TestCase):
    def test_request_json(self):
        params = cc.from_json({"SecretId": "x", "SecretBinary": "AAEC/w==", "MaxResults": 10, "Flag": True})
        self.assertEqual(params, {"SecretId": "x", "SecretBinary": b"\x00\x01\x02\xff", "MaxResults": 10, "Flag": True})
        for bad in [{"SecretBinary": "AAE"}, {"SecretBinary": "!!!!"}, {"MaxResults": 1.5}, {"SecretId": None}]:
            with self.assertRaises(ValueError):
                cc.from_json(bad)

    def test_response_json(self):
        response = decode_frame(EXAMPLES["get-secret-value-response"]).document()
        self.assertEqual(cc.to_json(response)["CreatedDate"], "2026-11-29T14:13:41.123000+00:00")
        self.assertEqual(cc.to_json(response, epoch_seconds=True)["CreatedDate"], 1795961621.123)
        binary = decode_frame(EXAMPLES["get-secret-value-binary-response"]).document()
        self.assertEqual(cc.to_json(binary)["SecretBinary"], "AAF/gP7/")


class FakeDaemon:
    """Answers requests on a real AF_UNIX socket: replies in reverse order of arrival, per batch."""

    def __init__(self, batch):
        self.directory = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.directory.name, "coffer.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.batch = batch
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        connection, _ = self.listener.accept()
        decoder = cc.FrameDecoder()
        pending = []
        with connection:
            while True:
                data = connection.recv(65536)
                if not data:
                    return
                decoder.feed(data)
                while True:
                    frame = decoder.next_frame()
                    if frame is None:
                        break
                    pending.append(frame)
                if len(pending) >= self.batch:
                    for frame in reversed(pending):
                        connection.sendall(self.answer(frame))
                    pending = []

    def answer(self, frame):
        request = frame.document()
        if frame.operation not in cc.OPERATION_NAMES:
            reply = {"__type": "UnknownOperationException", "Message": "Unknown operation code 0x%04x." % frame.operation}
            return cc.encode_frame(cc.KIND_ERROR, frame.operation, frame.request_id, reply)
        if frame.operation == cc.OPERATIONS["Hello"]:
            return cc.encode_frame(cc.KIND_RESPONSE, frame.operation, frame.request_id,
                                   {"ProtocolVersion": 1, "Server": "fake"})
        if request.get("SecretId") == "missing":
            reply = {"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."}
            return cc.encode_frame(cc.KIND_ERROR, frame.operation, frame.request_id, reply)
        echo = dict(request)
        echo["Operation"] = cc.OPERATION_NAMES[frame.operation]
        return cc.encode_frame(cc.KIND_RESPONSE, frame.operation, frame.request_id, echo)

    def close(self):
        self.listener.close()
        self.directory.cleanup()


class ClientPipelining(unittest.TestCase):
    def test_replies_out_of_order_are_matched_by_request_id(self):
        daemon = FakeDaemon(batch=3)
        try:
            with cc.Client(daemon.path, timeout=10) as client:
                ids = [client.send("GetSecretValue", {"SecretId": "s%d" % i}) for i in range(3)]
                self.assertEqual(ids, [1, 2, 3])
                self.assertEqual(client.receive(ids[0])["SecretId"], "s0")  # arrives last
                self.assertEqual(client.receive(ids[2])["SecretId"], "s2")
                self.assertEqual(client.receive(ids[1])["SecretId"], "s1")
                ids = [client.send("GetSecretValue", {"SecretId": "missing"}),
                       client.send("DescribeSecret", {"SecretId": "x"}),
                       client.send_raw(cc.encode_frame(cc.KIND_REQUEST, 0x01FF, 99, {}), 99)]
                with self.assertRaises(cc.CofferError) as caught:
                    client.receive(ids[0])
                self.assertEqual(caught.exception.type, "ResourceNotFoundException")
                self.assertEqual(client.receive(ids[1])["Operation"], "DescribeSecret")
                with self.assertRaises(cc.CofferError) as caught:
                    client.receive(99)
                self.assertEqual(caught.exception.type, "UnknownOperationException")
        finally:
            daemon.close()

    def test_call_many_and_convenience_calls(self):
        daemon = FakeDaemon(batch=1)
        try:
            with cc.Client(daemon.path, timeout=10, hello=True) as client:
                self.assertEqual(client.server_hello, {"ProtocolVersion": 1, "Server": "fake"})
                results = client.call_many([("GetSecretValue", {"SecretId": "s%d" % i}) for i in range(100)]
                                           + [("GetSecretValue", {"SecretId": "missing"})])
                self.assertEqual([r["SecretId"] for r in results[:100]], ["s%d" % i for i in range(100)])
                self.assertIsInstance(results[100], cc.CofferError)
                created = client.create_secret("n", secret_binary=b"\x00\xff", tags={"env": "prod"})
                self.assertEqual(created["SecretBinary"], b"\x00\xff")
                self.assertEqual(created["Tags"], [{"Key": "env", "Value": "prod"}])
                self.assertEqual(len(created["ClientRequestToken"]), 36)
                put = client.put_secret_value("n", secret_string="v", version_stages=["AWSCURRENT"])
                self.assertEqual((put["Operation"], put["SecretString"]), ("PutSecretValue", "v"))
                got = client.get_secret_value("n", version_stage="AWSPREVIOUS")
                self.assertEqual(got, {"SecretId": "n", "VersionStage": "AWSPREVIOUS", "Operation": "GetSecretValue"})
        finally:
            daemon.close()

    def test_request_ids_wrap_and_skip_zero(self):
        daemon = FakeDaemon(batch=1)
        try:
            with cc.Client(daemon.path, timeout=10) as client:
                client._next_id = 0xFFFFFFFF
                first = client.send("Hello")
                second = client.send("Hello")
                self.assertEqual((first, second), (0xFFFFFFFF, 1))
                client.receive(first)
                client.receive(second)
        finally:
            daemon.close()


if __name__ == "__main__":
    unittest.main()
